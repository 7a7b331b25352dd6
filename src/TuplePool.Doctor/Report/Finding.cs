using System.Text.Json.Nodes;

namespace TuplePool.Doctor.Report;

/// <summary>One line of the doctor's table.</summary>
/// <param name="Check">What was looked at ("ephemeral range", "tcp_tw_reuse", …).</param>
/// <param name="Verdict">ok, warn or fail.</param>
/// <param name="Summary">What was found, with the numbers.</param>
/// <param name="Advice">What it means or what to do; null when there is nothing to add.</param>
/// <param name="Data">The numbers again, for <c>--json</c>; null when the summary says it all.</param>
internal sealed record Finding(string Check, Verdict Verdict, string Summary, string? Advice = null, JsonObject? Data = null);
