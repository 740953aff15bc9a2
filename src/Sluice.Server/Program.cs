using Sluice.Server.Hosting;

return await ServerMain.RunAsync(args);
