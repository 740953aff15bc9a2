Console.WriteLine("sluice bench: not yet");
