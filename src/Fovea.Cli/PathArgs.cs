using System.Diagnostics.CodeAnalysis;

namespace Fovea.Cli;

/// <summary>
/// Checks the paths a command reads and writes before it starts work, so that a folder given for a file, or a file
/// in the way of an output folder, is one clear line up front (not "file not found" or "already exists" after a
/// long run). These are problems with the file system, not with the command line: they exit 1, like a missing file.
/// Each check passes null through, for options that were not given.
/// </summary>
internal static class PathArgs
{
    /// <summary>Fails unless <paramref name="path"/> is an existing file; returns it.</summary>
    [return: NotNullIfNotNull(nameof(path))]
    public static string? InputFile(string? path)
    {
        if (path is null) return null;
        if (Directory.Exists(path)) throw new IOException($"{path} is a directory, not a file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        return path;
    }

    /// <summary>
    /// Fails when <paramref name="path"/> is a file; returns it. A folder that does not exist is left to the loader,
    /// which says what it looked for and where.
    /// </summary>
    [return: NotNullIfNotNull(nameof(path))]
    public static string? InputFolder(string? path)
    {
        if (path is null) return null;
        if (File.Exists(path)) throw new IOException($"{path} is a file, not a directory");
        return path;
    }

    /// <summary>Fails when <paramref name="path"/> cannot become a file: it is a directory, or a folder above it is a file. Returns it.</summary>
    [return: NotNullIfNotNull(nameof(path))]
    public static string? OutputFile(string? path)
    {
        if (path is null) return null;
        if (Directory.Exists(path)) throw new IOException($"cannot write {path}: it is a directory");
        CheckParents(path);
        return path;
    }

    /// <summary>Fails when <paramref name="path"/> cannot become a folder: it is a file, or a folder above it is a file. Returns it.</summary>
    [return: NotNullIfNotNull(nameof(path))]
    public static string? OutputFolder(string? path)
    {
        if (path is null) return null;
        if (File.Exists(path)) throw new IOException($"cannot write into {path}: it is a file, not a directory");
        CheckParents(path);
        return path;
    }

    // The nearest existing folder above the path must be a folder; a file there would make creating the folders
    // fail with "already exists", which names the wrong problem.
    private static void CheckParents(string path)
    {
        // Walks the path as given (relative ones from the current folder), so that the message names what the user typed.
        for (string? dir = Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(dir)) return;
            if (File.Exists(dir)) throw new IOException($"cannot write {path}: {dir} is a file, not a directory");
        }
    }
}
