using Sluice.Cli;

return await CliApp.RunAsync(args, serve: null);
