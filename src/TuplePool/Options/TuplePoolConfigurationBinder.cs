using System.Globalization;
using System.Net;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace TuplePool.Options;

/// <summary>
/// Reads <see cref="TuplePoolOptions"/> from a configuration section the way people write it:
/// <c>"SourceAddresses": ["127.0.0.2", "127.0.0.3"]</c> (or one comma-separated string),
/// <c>"LocalPortRange": "40000-44999"</c>, time spans as <c>"00:00:30"</c> or <c>"Infinite"</c>.
/// </summary>
/// <remarks>
/// Hand-written instead of <c>ConfigurationBinder.Bind</c> for three reasons: the reflection
/// binder is not trim-safe, it cannot make an <see cref="IPAddress"/> from a string, and
/// it throws at the first bad value. Here a value that cannot be read leaves its setting untouched
/// and is returned as an error naming its configuration key, so start-up validation reports every
/// bad value at once. Keys absent from the section leave their setting as it was (defaults or an
/// earlier configure action). Binding is a pure function of the section's text, so the errors of a
/// section are the same whatever options instance it is bound onto.
/// </remarks>
internal static class TuplePoolConfigurationBinder
{
    /// <summary>
    /// Copies every setting present in <paramref name="section"/> onto <paramref name="options"/>
    /// and returns one message per value that could not be read and per key that is no setting
    /// (with the nearest setting's name), empty when everything was read.
    /// </summary>
    /// <param name="section">The pool's section.</param>
    /// <param name="options">Receives the settings present in the section.</param>
    /// <param name="poolNames">
    /// Names of the named pools registered (configuration keys compare without case): a child
    /// section with such a name is that pool's section, not a typo. A child section whose own keys
    /// are all setting names is taken for a named pool's section too.
    /// </param>
    public static IReadOnlyList<string> Bind(IConfiguration section, TuplePoolOptions options, IReadOnlyCollection<string>? poolNames = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);

        var reader = new Reader(section, options);
        foreach (var setting in Settings)
        {
            setting(reader);
        }

        reader.UnknownKeys("TuplePool", child => IsPoolSection(child, reader.Known, poolNames));
        return reader.Errors ?? (IReadOnlyList<string>)[];
    }

    /// <summary>
    /// One reader per public settable property of <see cref="TuplePoolOptions"/>, chosen by its
    /// type, so a new option of a type already read (a number, a time span, a flag, an enum) is
    /// bound, validated for unknown keys and offered as a "did you mean" with no change here.
    /// Delegates (<see cref="TuplePoolOptions.ConfigureConnectPipeline"/>) are code, not
    /// configuration. A property of any other type stops the first bind with the name of the
    /// option that needs a reader, rather than being skipped in silence.
    /// </summary>
    /// <remarks>
    /// <c>typeof(TuplePoolOptions).GetProperties</c> on a type known at compile time is kept whole
    /// by the trimmer and works under NativeAOT; binding runs once at start-up, so the boxing of
    /// <see cref="PropertyInfo.SetValue(object, object)"/> costs nothing that matters.
    /// </remarks>
    private static readonly Action<Reader>[] Settings = CreateSettings();

    private static Action<Reader>[] CreateSettings()
    {
        var settings = new List<Action<Reader>>();
        foreach (var property in typeof(TuplePoolOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true })
            {
                continue;
            }

            var name = property.Name;
            var type = property.PropertyType;
            if (type == typeof(int))
            {
                settings.Add(r => r.Int(name, (o, v) => property.SetValue(o, v)));
            }
            else if (type == typeof(TimeSpan))
            {
                settings.Add(r => r.TimeSpan(name, (o, v) => property.SetValue(o, v)));
            }
            else if (type == typeof(bool))
            {
                settings.Add(r => r.Bool(name, (o, v) => property.SetValue(o, v)));
            }
            else if (type.IsEnum)
            {
                settings.Add(r => r.Enum(name, type, (o, v) => property.SetValue(o, v)));
            }
            else if (type == typeof(IList<IPAddress>) && name == nameof(TuplePoolOptions.SourceAddresses))
            {
                settings.Add(static r => r.SourceAddresses());
            }
            else if (type == typeof(IList<IPNetwork>) && name == nameof(TuplePoolOptions.SourcePrefixes))
            {
                settings.Add(static r => r.SourcePrefixes());
            }
            else if (type == typeof(PortRange?) && name == nameof(TuplePoolOptions.LocalPortRange))
            {
                settings.Add(static r => r.LocalPortRange());
            }
            else if (type == typeof(TcpKeepAlive) && name == nameof(TuplePoolOptions.KeepAlive))
            {
                settings.Add(static r => r.KeepAlive());
            }
            else if (type == typeof(NatOptions) && name == nameof(TuplePoolOptions.Nat))
            {
                settings.Add(static r => r.Nat());
            }
            else if (!typeof(Delegate).IsAssignableFrom(type))
            {
                throw new InvalidOperationException($"TuplePoolOptions.{name} is of type {type.Name}, which the configuration binder has no reader for; add one in {nameof(TuplePoolConfigurationBinder)}.");
            }
        }

        return [.. settings];
    }

    /// <summary>
    /// The setting nearest to <paramref name="key"/> by edit distance (ignoring case), or null when
    /// none is close enough to be what was meant.
    /// </summary>
    internal static string? Nearest(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = EditDistance(key, candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static bool IsPoolSection(IConfigurationSection child, IReadOnlySet<string> settings, IReadOnlyCollection<string>? poolNames)
    {
        if (poolNames is not null && poolNames.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        var any = false;
        foreach (var key in child.GetChildren())
        {
            if (!settings.Contains(key.Key))
            {
                return false;
            }

            any = true;
        }

        return any;
    }

    /// <summary>Levenshtein distance, ignoring case.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var same = char.ToUpperInvariant(a[i - 1]) == char.ToUpperInvariant(b[j - 1]);
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (same ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private sealed class Reader(IConfiguration section, TuplePoolOptions options)
    {
        private readonly string _path = section is IConfigurationSection s ? s.Path : string.Empty;
        private readonly HashSet<string> _known = new(StringComparer.OrdinalIgnoreCase);

        public List<string>? Errors { get; private set; }

        /// <summary>Every key this reader has read (present or not): the settings of its section.</summary>
        public IReadOnlySet<string> Known => _known;

        /// <summary>
        /// Reports each key of the section that no read asked for, naming the nearest setting,
        /// except the children <paramref name="isExcepted"/> accepts.
        /// </summary>
        public void UnknownKeys(string what, Func<IConfigurationSection, bool>? isExcepted = null)
        {
            foreach (var child in section.GetChildren())
            {
                if (_known.Contains(child.Key) || (isExcepted?.Invoke(child) ?? false))
                {
                    continue;
                }

                var message = Nearest(child.Key, _known) is { } nearest
                    ? $"{child.Path} is not a {what} setting; did you mean {nearest}?"
                    : $"{child.Path} is not a {what} setting; the settings are {string.Join(", ", _known)}.";
                (Errors ??= []).Add(message);
            }
        }

        private IConfigurationSection Node(string key)
        {
            _known.Add(key);
            return section.GetSection(key);
        }

        public void SourceAddresses()
        {
            const string Key = nameof(TuplePoolOptions.SourceAddresses);
            var node = Node(Key);
            var children = node.GetChildren().ToList();
            var addresses = new List<IPAddress>();
            if (children.Count > 0)
            {
                foreach (var child in children)
                {
                    Add(child.Value, child.Path);
                }
            }
            else if (!string.IsNullOrWhiteSpace(node.Value))
            {
                // One string, as an environment variable usually carries it: "127.0.0.2,127.0.0.3".
                foreach (var part in node.Value.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    Add(part, node.Path);
                }
            }
            else
            {
                return;
            }

            // A configured list replaces the one in the options instead of appending to it
            // (appending is the reflection binder's surprising behaviour for lists).
            options.SourceAddresses = addresses;

            void Add(string? text, string path)
            {
                if (text is not null && AddressParser.TryParse(text, out var address))
                {
                    addresses.Add(address);
                }
                else
                {
                    Error(path, $"SourceAddresses: '{text}' is not an IP address; write each source like \"127.0.0.2\" or \"fd00::2\"");
                }
            }
        }

        /// <summary>Networks in CIDR notation, as for <see cref="NatOptions.Destinations"/>; a configured list replaces the options' one.</summary>
        public void SourcePrefixes() => Networks(nameof(TuplePoolOptions.SourcePrefixes), v => options.SourcePrefixes = v);

        public void LocalPortRange()
        {
            const string Key = nameof(TuplePoolOptions.LocalPortRange);
            var node = Node(Key);
            var text = node.Value;
            if (text is null)
            {
                // Also accept the object form { "First": 40000, "Last": 44999 }.
                var inner = new Reader(node, options);
                var first = inner.Node(nameof(PortRange.First)).Value;
                var last = inner.Node(nameof(PortRange.Last)).Value;
                inner.UnknownKeys(Key);
                if (inner.Errors is { } unknown)
                {
                    (Errors ??= []).AddRange(unknown);
                }

                if (first is null && last is null)
                {
                    return;
                }

                if (TryParsePort(first, out var f) && TryParsePort(last, out var l))
                {
                    options.LocalPortRange = new PortRange(f, l);
                }
                else
                {
                    Error(node.Path, $"LocalPortRange: First '{first}' and Last '{last}' must both be port numbers");
                }

                return;
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                options.LocalPortRange = null;
                return;
            }

            // Read as written (not PortRange.TryParse, which rejects First > Last or port 0) so
            // the validator can say what exactly is wrong with a range that parses.
            if (PortRange.TryParse(text, PortRange.Syntax.Dash | PortRange.Syntax.SinglePort, out var range))
            {
                options.LocalPortRange = range;
            }
            else
            {
                Error(node.Path, $"LocalPortRange: '{text}' is not a port range; write it as \"First-Last\", for example \"40000-44999\"");
            }
        }

        public void KeepAlive()
        {
            const string Key = nameof(TuplePoolOptions.KeepAlive);
            var node = Node(Key);
            if (!node.GetChildren().Any())
            {
                if (node.Value is { } text && !string.IsNullOrWhiteSpace(text))
                {
                    if (text.Trim().Equals("false", StringComparison.OrdinalIgnoreCase) || text.Trim().Equals("off", StringComparison.OrdinalIgnoreCase))
                    {
                        options.KeepAlive = null;
                    }
                    else if (text.Trim().Equals("true", StringComparison.OrdinalIgnoreCase) || text.Trim().Equals("on", StringComparison.OrdinalIgnoreCase))
                    {
                        options.KeepAlive = new TcpKeepAlive();
                    }
                    else
                    {
                        Error(node.Path, $"KeepAlive: '{text}' is not true, false or an object with Time, Interval and RetryCount");
                    }
                }

                return;
            }

            var keepAlive = options.KeepAlive ?? new TcpKeepAlive();
            var inner = new Reader(node, options);
            inner.TimeSpanOf(nameof(TcpKeepAlive.Time), v => keepAlive.Time = v);
            inner.TimeSpanOf(nameof(TcpKeepAlive.Interval), v => keepAlive.Interval = v);
            inner.IntOf(nameof(TcpKeepAlive.RetryCount), v => keepAlive.RetryCount = v);
            inner.UnknownKeys(Key);
            if (inner.Errors is { } errors)
            {
                (Errors ??= []).AddRange(errors);
            }

            options.KeepAlive = keepAlive;
        }

        public void Nat()
        {
            const string Key = nameof(TuplePoolOptions.Nat);
            var node = Node(Key);
            if (!node.GetChildren().Any())
            {
                if (node.Value is { } text && !string.IsNullOrWhiteSpace(text))
                {
                    if (text.Trim().Equals("false", StringComparison.OrdinalIgnoreCase) || text.Trim().Equals("off", StringComparison.OrdinalIgnoreCase))
                    {
                        options.Nat = null;
                    }
                    else
                    {
                        Error(node.Path, $"Nat: '{text}' is not an object with PortsPerDestination, HoldAfterClose, HoldAfterReset, IdleTimeout and Destinations (or false for no NAT)");
                    }
                }

                return;
            }

            var nat = options.Nat ?? new NatOptions();
            var inner = new Reader(node, options);
            inner.IntOf(nameof(NatOptions.PortsPerDestination), v => nat.PortsPerDestination = v);
            inner.TimeSpanOf(nameof(NatOptions.HoldAfterClose), v => nat.HoldAfterClose = v);
            inner.TimeSpanOf(nameof(NatOptions.HoldAfterReset), v => nat.HoldAfterReset = v);
            inner.TimeSpanOf(nameof(NatOptions.IdleTimeout), v => nat.IdleTimeout = v);
            inner.Networks(nameof(NatOptions.Destinations), v => nat.Destinations = v);
            inner.UnknownKeys(Key);
            if (inner.Errors is { } errors)
            {
                (Errors ??= []).AddRange(errors);
            }

            options.Nat = nat;
        }

        /// <summary>A list of networks in CIDR notation (<c>["198.18.0.0/15", "2001:db8::/32"]</c>, or one comma-separated string); a bare address is its own /32 or /128.</summary>
        public void Networks(string key, Action<IList<IPNetwork>> set)
        {
            var node = Node(key);
            var children = node.GetChildren().ToList();
            var networks = new List<IPNetwork>();
            if (children.Count > 0)
            {
                foreach (var child in children)
                {
                    Add(child.Value, child.Path);
                }
            }
            else if (!string.IsNullOrWhiteSpace(node.Value))
            {
                foreach (var part in node.Value.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    Add(part, node.Path);
                }
            }
            else
            {
                return;
            }

            set(networks);

            void Add(string? text, string path)
            {
                if (text is not null && NetworkParser.TryParse(text, out var network))
                {
                    networks.Add(network);
                }
                else
                {
                    Error(path, $"{key}: '{text}' is not a network; write it in CIDR notation like \"198.18.0.0/15\" or \"2001:db8::/32\"");
                }
            }
        }

        public void TimeSpanOf(string key, Action<TimeSpan> set) => TimeSpan(key, (_, v) => set(v));

        public void IntOf(string key, Action<int> set) => Int(key, (_, v) => set(v));

        public void Int(string key, Action<TuplePoolOptions, int> set)
        {
            if (Value(key, out var path) is not { } text)
            {
                return;
            }

            if (int.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var value))
            {
                set(options, value);
            }
            else
            {
                Error(path, $"{key}: '{text}' is not a whole number");
            }
        }

        public void TimeSpan(string key, Action<TuplePoolOptions, TimeSpan> set)
        {
            if (Value(key, out var path) is not { } text)
            {
                return;
            }

            var trimmed = text.Trim();
            if (trimmed.Equals("Infinite", StringComparison.OrdinalIgnoreCase))
            {
                set(options, Timeout.InfiniteTimeSpan);
            }
            else if (!trimmed.Contains(':', StringComparison.Ordinal))
            {
                // TimeSpan.Parse reads "30" as thirty days; nobody writing a timeout means that.
                Error(path, $"{key}: '{text}' is not a time span; write it as \"hh:mm:ss\" (\"00:00:30\" is 30 seconds; a bare number would be read as days) or \"Infinite\"");
            }
            else if (System.TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out var value))
            {
                set(options, value);
            }
            else
            {
                Error(path, $"{key}: '{text}' is not a time span; write it as \"hh:mm:ss\", for example \"00:00:30\", or \"Infinite\"");
            }
        }

        public void Bool(string key, Action<TuplePoolOptions, bool> set)
        {
            if (Value(key, out var path) is not { } text)
            {
                return;
            }

            if (bool.TryParse(text.Trim(), out var value))
            {
                set(options, value);
            }
            else
            {
                Error(path, $"{key}: '{text}' is not true or false");
            }
        }

        public void Enum(string key, Type enumType, Action<TuplePoolOptions, object> set)
        {
            if (Value(key, out var path) is not { } text)
            {
                return;
            }

            // A number parses into any value, defined or not: IsDefined keeps only the named ones.
            if (System.Enum.TryParse(enumType, text.Trim(), ignoreCase: true, out var value) && System.Enum.IsDefined(enumType, value))
            {
                set(options, value);
            }
            else
            {
                Error(path, $"{key}: '{text}' is not one of {string.Join(", ", System.Enum.GetNames(enumType))}");
            }
        }

        private string? Value(string key, out string path)
        {
            path = _path.Length == 0 ? key : ConfigurationPath.Combine(_path, key);
            var text = Node(key).Value;
            return string.IsNullOrWhiteSpace(text) ? null : text;
        }

        private void Error(string path, string message)
            => (Errors ??= []).Add(string.Create(CultureInfo.InvariantCulture, $"{message} (configuration key '{path}')."));

        private static bool TryParsePort(ReadOnlySpan<char> text, out int port)
            => int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out port);
    }
}
