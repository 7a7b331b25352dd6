using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TuplePool.Serialization;

/// <summary>
/// Writes an <see cref="IPAddress"/> as its usual text (<c>"127.0.0.2"</c>, <c>"fd00::2"</c>) and
/// reads it back. Applied to <see cref="TupleUsage.Source"/>, so a <see cref="TuplePoolSnapshot"/>
/// serialises with <c>System.Text.Json</c> (reflection or source-generated) as users expect.
/// </summary>
public sealed class IPAddressJsonConverter : JsonConverter<IPAddress>
{
    /// <inheritdoc />
    public override IPAddress? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var text = reader.GetString();
        return IPAddress.TryParse(text, out var address)
            ? address
            : throw new JsonException($"'{text}' is not an IP address.");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.ToString());
    }
}
