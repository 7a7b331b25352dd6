using System.Text.Encodings.Web;
using System.Text.Json;

namespace TuplePool.Doctor.Report;

/// <summary>The findings as one JSON document (written by hand: no reflection, trim-safe).</summary>
internal static class JsonReportWriter
{
    public static void Write(DoctorReport report, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("procRoot", report.ProcRoot);
            writer.WriteString("socketCensus", CensusNames.Json(report.SocketCensus));
            writer.WriteNumber("exitCode", report.ExitCode);
            writer.WriteStartObject("counts");
            writer.WriteNumber("ok", report.Count(Verdict.Ok));
            writer.WriteNumber("warn", report.Count(Verdict.Warn));
            writer.WriteNumber("fail", report.Count(Verdict.Fail));
            writer.WriteEndObject();
            writer.WriteStartArray("findings");
            foreach (var finding in report.Findings)
            {
                writer.WriteStartObject();
                writer.WriteString("check", finding.Check);
                writer.WriteString("verdict", TableReportWriter.Label(finding.Verdict));
                writer.WriteString("summary", finding.Summary);
                if (finding.Advice is { } advice)
                {
                    writer.WriteString("advice", advice);
                }

                if (finding.Data is { } data)
                {
                    writer.WritePropertyName("data");
                    data.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
