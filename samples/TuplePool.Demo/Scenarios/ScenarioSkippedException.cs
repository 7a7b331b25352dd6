namespace TuplePool.Demo.Scenarios;

/// <summary>The machine cannot run a scenario (kernel too old, address not bindable, ...): say why, go on.</summary>
internal sealed class ScenarioSkippedException(string reason) : Exception(reason);
