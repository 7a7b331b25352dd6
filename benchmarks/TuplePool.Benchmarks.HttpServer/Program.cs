using TuplePool.Benchmarks.HttpServer;

// Started by the benchmarks as `dotnet exec TuplePool.Benchmarks.HttpServer.dll --serve-http PORT`.
return HttpServerHolder.Run(args);
