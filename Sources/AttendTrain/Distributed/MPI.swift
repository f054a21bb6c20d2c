// The only file that calls MPI. Open MPI's library (libmpi.so.40, Debian's `libopenmpi3`, which
// `openmpi-bin` and its `mpirun` bring along) is opened at run time with dlopen, so building Attend
// and training in one process need no MPI at all; only `--distributed mpi` looks for it.
//
// Without mpi.h the handles are taken from Open MPI's ABI (checked against its 4.1 mpi.h, stable
// since Open MPI 3): MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM… are the addresses of the exported globals
// `ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`…; MPI_IN_PLACE is (void *) 1;
// MPI_THREAD_MULTIPLE is 3 and MPI_SUCCESS 0; counts are C ints. MPICH's ABI is different
// (integer handles), which is why `load` insists on the Open MPI symbols.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Open MPI's entry points and predefined handles, resolved with dlsym.
struct OpenMPILibrary: @unchecked Sendable {
    typealias Handle = UnsafeMutableRawPointer
    typealias ArgumentVector = UnsafeMutablePointer<
        UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    >
    typealias InitThread =
        @convention(c) (
            UnsafeMutablePointer<Int32>?, ArgumentVector?, Int32, UnsafeMutablePointer<Int32>
        ) -> Int32
    typealias Flag = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    typealias CommunicatorQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias AllReduce =
        @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle)
        -> Int32
    typealias Broadcast =
        @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias Barrier = @convention(c) (Handle) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32
    typealias Finalize = @convention(c) () -> Int32
    typealias ErrorString =
        @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

    let path: String
    let initThread: InitThread, initialized: Flag, finalized: Flag, finalize: Finalize
    let commRank: CommunicatorQuery, commSize: CommunicatorQuery
    let allReduce: AllReduce, broadcast: Broadcast, barrier: Barrier, abort: Abort,
        errorString: ErrorString
    let world: Handle, float: Handle, double: Handle, byte: Handle, sum: Handle, maximum: Handle

    /// MPI_IN_PLACE in Open MPI.
    static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }
    /// MPI_THREAD_MULTIPLE: the watchdog may call MPI_Abort while the main thread waits in a collective.
    static let threadMultiple: Int32 = 3
    /// Largest element count one call takes (counts are C ints).
    static let maximumCount = 1 << 30

    /// Opens the library: `$ATTEND_MPI_LIBRARY` if set, else Open MPI's soname.
    static func load() throws -> OpenMPILibrary {
        let candidates =
            ProcessInfo.processInfo.environment["ATTEND_MPI_LIBRARY"].map { [$0] }
            ?? ["libmpi.so.40", "libmpi.so"]
        var failures: [String] = []
        for path in candidates {
            // RTLD_GLOBAL: Open MPI's own plug-ins, which it opens later, resolve symbols of libmpi.
            guard let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
                failures.append(dlerror().map { String(cString: $0) } ?? path)
                continue
            }
            return try OpenMPILibrary(path: path, handle: handle)
        }
        throw CommunicatorError.library(
            "--distributed mpi needs Open MPI's library, which could not be loaded (\(failures.joined(separator: "; "))). "
                + "Install it with `apt-get install openmpi-bin` (Debian), or set ATTEND_MPI_LIBRARY to the path of libmpi.so"
        )
    }

    private init(path: String, handle: UnsafeMutableRawPointer) throws {
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let pointer = dlsym(handle, name) else {
                throw CommunicatorError.library(
                    "\(path) has no symbol \(name): Attend's --distributed mpi supports Open MPI (3.x or later) only"
                )
            }
            return pointer
        }
        func function<F>(_ name: String, _ type: F.Type) throws -> F {
            unsafeBitCast(try symbol(name), to: type)
        }
        self.path = path
        initThread = try function("MPI_Init_thread", InitThread.self)
        initialized = try function("MPI_Initialized", Flag.self)
        finalized = try function("MPI_Finalized", Flag.self)
        finalize = try function("MPI_Finalize", Finalize.self)
        commRank = try function("MPI_Comm_rank", CommunicatorQuery.self)
        commSize = try function("MPI_Comm_size", CommunicatorQuery.self)
        allReduce = try function("MPI_Allreduce", AllReduce.self)
        broadcast = try function("MPI_Bcast", Broadcast.self)
        barrier = try function("MPI_Barrier", Barrier.self)
        abort = try function("MPI_Abort", Abort.self)
        errorString = try function("MPI_Error_string", ErrorString.self)
        world = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        byte = try symbol("ompi_mpi_byte")
        sum = try symbol("ompi_mpi_op_sum")
        maximum = try symbol("ompi_mpi_op_max")
    }

    /// Throws unless `code` is MPI_SUCCESS.
    func check(_ code: Int32, _ function: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        let known = errorString(code, &text, &length) == 0
        let message =
            known
            ? String(
                decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "unknown MPI error"
        throw CommunicatorError.call(function: function, code: code, message: message)
    }
}

/// The processes started by `mpirun`, talking through Open MPI's MPI_COMM_WORLD.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// Number of processes in MPI_COMM_WORLD.
    public let size: Int
    /// What this process is doing, for timeout messages.
    public var phase = ""
    /// Processes of the group on this machine (from `mpirun`'s environment; 1 when unknown).
    public let localSize: Int
    /// The library file that was opened.
    public let libraryPath: String
    private let library: OpenMPILibrary

    /// Loads Open MPI, initialises it and joins MPI_COMM_WORLD. Call once per process.
    public init() throws {
        library = try OpenMPILibrary.load()
        libraryPath = library.path
        var flag: Int32 = 0
        try library.check(library.initialized(&flag), "MPI_Initialized")
        if flag == 0 {
            var provided: Int32 = 0
            try library.check(
                library.initThread(nil, nil, OpenMPILibrary.threadMultiple, &provided),
                "MPI_Init_thread")
        }
        var value: Int32 = 0
        try library.check(library.commRank(library.world, &value), "MPI_Comm_rank")
        rank = Int(value)
        try library.check(library.commSize(library.world, &value), "MPI_Comm_size")
        size = Int(value)
        localSize =
            ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    /// MPI_Allreduce (sum, in place), in chunks that fit MPI's 32-bit counts.
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try chunks(values.count) { range in
            try library.check(
                library.allReduce(
                    OpenMPILibrary.inPlace, values.baseAddress! + range.lowerBound,
                    Int32(range.count), library.float,
                    library.sum, library.world),
                "MPI_Allreduce")
        }
    }

    /// MPI_Allreduce (sum or maximum, in place), in chunks that fit MPI's 32-bit counts.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, _ reduction: Reduction)
        throws
    {
        let operation = reduction == .sum ? library.sum : library.maximum
        try chunks(values.count) { range in
            try library.check(
                library.allReduce(
                    OpenMPILibrary.inPlace, values.baseAddress! + range.lowerBound,
                    Int32(range.count), library.double,
                    operation, library.world),
                "MPI_Allreduce")
        }
    }

    /// MPI_Bcast from `root`, in chunks that fit MPI's 32-bit counts; throws for a root
    /// outside the group.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard (0..<size).contains(root) else {
            throw CommunicatorError.invalidRoot(root, size: size)
        }
        try chunks(bytes.count) { range in
            try library.check(
                library.broadcast(
                    bytes.baseAddress! + range.lowerBound, Int32(range.count), library.byte,
                    Int32(root), library.world),
                "MPI_Bcast")
        }
    }

    /// MPI_Barrier on MPI_COMM_WORLD.
    public func barrier() throws {
        try library.check(library.barrier(library.world), "MPI_Barrier")
    }

    /// MPI_Abort: `mpirun` ends every process of the job. Falls back to `_exit` should it return.
    public func abort(code: Int32) -> Never {
        _ = library.abort(library.world, code)
        _exit(code)
    }

    /// MPI_Finalize: the last MPI call of a process that finished normally.
    public func finish() throws {
        var flag: Int32 = 0
        try library.check(library.finalized(&flag), "MPI_Finalized")
        if flag == 0 { try library.check(library.finalize(), "MPI_Finalize") }
    }

    /// Calls `body` on consecutive ranges of at most `OpenMPILibrary.maximumCount` elements.
    /// Empty buffers make no call (every process knows the count, so all of them skip it).
    private func chunks(_ count: Int, _ body: (Range<Int>) throws -> Void) throws {
        var start = 0
        while start < count {
            let end = Swift.min(start + OpenMPILibrary.maximumCount, count)
            try body(start..<end)
            start = end
        }
    }
}
