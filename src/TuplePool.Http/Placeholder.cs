namespace TuplePool.Http; internal static class Placeholder { }
