using Microsoft.Extensions.Configuration;
using TuplePool.Options;

namespace TuplePool.Doctor;

/// <summary>A TuplePool section read from an appsettings file with the library's own binder.</summary>
internal sealed record LoadedConfig(string File, string Section, TuplePoolOptions Options, IReadOnlyList<string> BindErrors, int Settings);

/// <summary>Bad input the doctor cannot work with: exit code 2 and this message.</summary>
internal sealed class DoctorInputException(string message) : Exception(message);

internal static class ConfigLoader
{
    public static LoadedConfig Load(string file, string section)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path))
        {
            throw new DoctorInputException($"--config: {file} does not exist.");
        }

        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: false).Build();
        }
        catch (InvalidDataException e)
        {
            // The JSON provider wraps a FormatException around the parser's JsonException, which
            // has the line and position.
            var why = e.GetBaseException().Message;
            throw new DoctorInputException($"--config: {file} is not valid JSON: {why}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DoctorInputException($"--config: {file} cannot be read: {e.Message}");
        }

        var configuration = root.GetSection(section);
        if (!configuration.Exists())
        {
            var present = root.GetChildren().Select(static c => c.Key).ToList();
            var listed = present.Count == 0 ? "the file has no sections" : "sections there: " + string.Join(", ", present);
            throw new DoctorInputException($"--section: {file} has no section '{section}' ({listed}). Name the pool's section, e.g. --section TuplePool or --section TuplePool:backend.");
        }

        var options = new TuplePoolOptions();
        var errors = TuplePoolConfigurationBinder.Bind(configuration, options);
        var settings = configuration.GetChildren().Count();
        return new LoadedConfig(file, section, options, errors, settings);
    }
}
