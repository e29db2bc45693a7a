using System.Runtime.InteropServices;

namespace Fovea.Distributed.Mpi;

/// <summary>
/// The few entry points of Open MPI's C library that the process group uses, bound at run time: the library is
/// loaded with <see cref="NativeLibrary"/> and each function is called through an unmanaged function pointer taken
/// from its export, which needs no marshalling and no reflection (trimming and Native AOT keep it as it is). Open MPI's
/// handles are addresses of exported objects — <c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>,
/// <c>MPI_FLOAT</c> <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> <c>&amp;ompi_mpi_op_sum</c> — so they too come from
/// <see cref="NativeLibrary.GetExport"/>. (MPICH's handles are integer constants instead: this binding is for Open MPI,
/// whose <c>libmpi.so.40</c> is what Debian and most clusters ship.)
/// </summary>
internal sealed unsafe class OpenMpi
{
    /// <summary>The library names tried, in order.</summary>
    internal static readonly string[] LibraryNames = ["libmpi.so.40", "libmpi.so", "libmpi.40.dylib", "libmpi.dylib"];

    /// <summary><c>MPI_THREAD_FUNNELED</c>: only the thread that initialised MPI calls it (our communication thread).</summary>
    internal const int ThreadFunneled = 1;

    /// <summary><c>MPI_IN_PLACE</c> in Open MPI's mpi.h: <c>(void *) 1</c>.</summary>
    internal static readonly void* InPlace = (void*)1;

    private const int Success = 0;
    private const int MaxErrorString = 256;

    private readonly delegate* unmanaged<int*, int> _initialized;
    private readonly delegate* unmanaged<int*, byte***, int, int*, int> _initThread;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<nint, int*, int> _commRank;
    private readonly delegate* unmanaged<nint, int*, int> _commSize;
    private readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> _allreduce;
    private readonly delegate* unmanaged<void*, int, nint, int, nint, int> _bcast;
    private readonly delegate* unmanaged<nint, int> _barrier;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;

    /// <summary><c>MPI_COMM_WORLD</c>.</summary>
    public nint CommWorld { get; }

    /// <summary><c>MPI_FLOAT</c>.</summary>
    public nint Float { get; }

    /// <summary><c>MPI_DOUBLE</c>.</summary>
    public nint Double { get; }

    /// <summary><c>MPI_SUM</c>.</summary>
    public nint Sum { get; }

    /// <summary>Which file was loaded.</summary>
    public string LibraryName { get; }

    private OpenMpi(nint library, string name)
    {
        LibraryName = name;
        nint Export(string symbol)
        {
            if (NativeLibrary.TryGetExport(library, symbol, out var address)) return address;
            throw new DistributedUnavailableException($"{name} has no symbol {symbol}: it is not Open MPI (Fovea binds Open MPI's libmpi.so.40; install openmpi-bin)");
        }
        _initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        _initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _commRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        _barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        CommWorld = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        Double = Export("ompi_mpi_double");
        Sum = Export("ompi_mpi_op_sum");
    }

    /// <summary>Loads the first library of <see cref="LibraryNames"/> that exists; one clear line when none does.</summary>
    public static OpenMpi Load()
    {
        foreach (var name in LibraryNames)
            if (LoadGlobal(name) is var handle && handle != 0) return new OpenMpi(handle, name);
        throw new DistributedUnavailableException("Open MPI's library (libmpi.so.40) was not found: install it (Debian/Ubuntu: apt-get install openmpi-bin) or add its folder to LD_LIBRARY_PATH");
    }

    /// <summary>
    /// Open MPI loads its transports as plug-ins that resolve symbols of libmpi itself, so libmpi must be loaded with
    /// <c>RTLD_GLOBAL</c> (mpi4py does the same); <see cref="NativeLibrary.Load(string)"/> uses <c>RTLD_LOCAL</c>. On
    /// Linux the library is therefore opened with <c>dlopen(name, RTLD_NOW | RTLD_GLOBAL)</c> first, and the handle
    /// that <see cref="NativeLibrary"/> returns for the same file is then the same library.
    /// </summary>
    private static nint LoadGlobal(string name)
    {
        if (OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc)
            && NativeLibrary.TryGetExport(libc, "dlopen", out var dlopenAddress))
        {
            const int RtldNow = 0x2, RtldGlobal = 0x100;
            var dlopen = (delegate* unmanaged<byte*, int, nint>)dlopenAddress;
            var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
            fixed (byte* p = bytes) dlopen(p, RtldNow | RtldGlobal);
        }
        return NativeLibrary.TryLoad(name, out var handle) ? handle : 0;
    }

    public bool Initialized()
    {
        int flag;
        Check(_initialized(&flag), "MPI_Initialized");
        return flag != 0;
    }

    public int InitThread(int required)
    {
        int provided;
        Check(_initThread(null, null, required, &provided), "MPI_Init_thread");
        return provided;
    }

    public void FinalizeMpi() => Check(_finalize(), "MPI_Finalize");

    public int CommRank()
    {
        int rank;
        Check(_commRank(CommWorld, &rank), "MPI_Comm_rank");
        return rank;
    }

    public int CommSize()
    {
        int size;
        Check(_commSize(CommWorld, &size), "MPI_Comm_size");
        return size;
    }

    public void AllReduceSumInPlace(void* data, int count, nint type) =>
        Check(_allreduce(InPlace, data, count, type, Sum, CommWorld), "MPI_Allreduce");

    public void Broadcast(void* data, int count, nint type, int root) =>
        Check(_bcast(data, count, type, root, CommWorld), "MPI_Bcast");

    public void Barrier() => Check(_barrier(CommWorld), "MPI_Barrier");

    private void Check(int code, string function)
    {
        if (code == Success) return;
        var text = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        string message = _errorString(code, text, &length) == Success
            ? System.Text.Encoding.ASCII.GetString(text, Math.Clamp(length, 0, MaxErrorString))
            : $"error code {code}";
        throw new InvalidOperationException($"{function} failed: {message}");
    }
}
