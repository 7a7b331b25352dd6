using System.ComponentModel;
using System.Globalization;

namespace TuplePool;

public readonly partial record struct PortRange
{
    /// <summary>Lets reflection-based configuration binding read <c>"LocalPortRange": "40000-44999"</c>.</summary>
    internal sealed class Converter : TypeConverter
    {
        public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
            => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

        public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
            => value is string text ? Parse(text) : base.ConvertFrom(context, culture, value);

        public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
            => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

        public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
            => value is PortRange range && destinationType == typeof(string)
                ? range.ToString()
                : base.ConvertTo(context, culture, value, destinationType);
    }
}
