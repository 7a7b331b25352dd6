using TuplePool.Doctor.Checks;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;

namespace TuplePool.Doctor;

/// <summary><c>tuplepool doctor</c>: reads the host, runs every check, prints the table or JSON.</summary>
internal static class DoctorCommand
{
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        DoctorArguments arguments;
        LoadedConfig? config;
        try
        {
            arguments = DoctorArguments.Parse(args);
            if (arguments.Help)
            {
                output.WriteLine(DoctorArguments.Usage);
                return ExitCodes.Ok;
            }

            config = arguments.ConfigFile is { } file ? ConfigLoader.Load(file, arguments.Section) : null;
        }
        catch (DoctorInputException e)
        {
            error.WriteLine("tuplepool doctor: " + e.Message);
            error.WriteLine("Run `tuplepool doctor --help` for the options.");
            return ExitCodes.BadInput;
        }

        var question = new NatQuestion(arguments.Destinations, arguments.Rate, arguments.Concurrent);
        var report = Examine(new ProcTree(arguments.ProcRoot), config, arguments.Top, census: null, question);
        if (arguments.Json)
        {
            JsonReportWriter.Write(report, output);
        }
        else
        {
            TableReportWriter.Write(report, output, arguments.Verbose);
        }

        return report.ExitCode;
    }

    /// <summary>Every check, in the order of the table.</summary>
    /// <param name="tree">Where <c>/proc</c> is read from.</param>
    /// <param name="config">The pool's configuration, when one was given.</param>
    /// <param name="top">How many tuples to list.</param>
    /// <param name="census">Where the sockets come from (see <see cref="HostFacts.Read"/>); a seam for tests.</param>
    /// <param name="nat">What the command line asks of the configured NAT (<c>--destination</c>, <c>--rate</c>).</param>
    internal static DoctorReport Examine(ProcTree tree, LoadedConfig? config, int top, IKernelCensus? census = null, NatQuestion? nat = null)
    {
        var facts = HostFacts.Read(tree, census);
        var plan = PoolPlan.Create(facts, config?.Options);
        var report = new DoctorReport(tree.Root, facts.Census);
        void AddAll(IEnumerable<Finding> findings)
        {
            foreach (var finding in findings)
            {
                report.Add(finding);
            }
        }

        AddAll(PortRangeCheck.Run(facts));
        AddAll(ListenerCheck.Run(facts));
        AddAll(TupleUsageCheck.Run(facts, top));
        AddAll(TimeWaitSettingsCheck.Run(facts));
        AddAll(KernelFeaturesCheck.Run(facts, config?.Options));
        report.Add(OpenFilesCheck.Run(facts, plan));
        report.Add(ConntrackCheck.Run(facts));
        if (ConntrackCheck.Timeouts(facts, config?.Options.Nat) is { } timeouts)
        {
            report.Add(timeouts);
        }

        if (config is not null)
        {
            AddAll(ConfigCheck.Run(facts, config, plan));
            AddAll(NatCheck.Run(config.Options, nat ?? NatQuestion.None));
        }

        return report;
    }
}
