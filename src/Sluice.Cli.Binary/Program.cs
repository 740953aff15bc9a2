using Sluice.Cli;
using Sluice.Server.Hosting;

return await CliApp.RunAsync(args, serve: serverArgs => ServerMain.RunAsync(serverArgs, "sluice serve"));
