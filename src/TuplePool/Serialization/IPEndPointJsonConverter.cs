using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TuplePool.Serialization;

/// <summary>
/// Writes an <see cref="IPEndPoint"/> as <c>"127.0.0.1:7000"</c> or <c>"[::1]:7000"</c> and reads
/// it back. Applied to <see cref="TupleUsage.Destination"/>.
/// </summary>
public sealed class IPEndPointJsonConverter : JsonConverter<IPEndPoint>
{
    /// <inheritdoc />
    public override IPEndPoint? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var text = reader.GetString();
        return IPEndPoint.TryParse(text ?? string.Empty, out var endPoint)
            ? endPoint
            : throw new JsonException($"'{text}' is not an IP address and port.");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IPEndPoint value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.ToString());
    }
}
