import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Matrix products through OpenBLAS `cblas_sgemm` (row-major).
public enum Matmul {
    /// Sets OpenBLAS to one thread. moekit parallelises at a coarser level with `Parallel`, and on these machines
    /// a multithreaded sgemm was measured slower for mid-size shapes (OpenBLAS 0.3.21 on 2 vCPUs: 512³ at
    /// 85.6 GFLOP/s with one thread, 51–57 with two; `moekit-bench sgemm` measures it); never nest
    /// our threads around a multithreaded BLAS.
    public static func useSingleThreadedBLAS() {
        openblas_set_num_threads(1)
    }

    /// Stops OpenBLAS's worker threads. A threaded OpenBLAS starts them when the library loads, and each spins on
    /// `sched_yield` for its timeout (2²⁸ TSC cycles, about 0.1 s) before it sleeps, taking a core from a command's
    /// start-up (measured with `perf` on `moekit prepare-data`). With one BLAS thread they are never used; should a
    /// caller ask for more threads later, OpenBLAS starts them again on its next threaded call. Call it where no
    /// other thread is inside BLAS (the start of `main`). Does nothing on an OpenBLAS without a thread server.
    public static func stopIdleBLASThreads() {
        typealias Shutdown = @convention(c) () -> Int32
        // nil is RTLD_DEFAULT.
        guard let symbol = dlsym(nil, "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(symbol, to: Shutdown.self)()
    }

    /// C[M×N] = alpha · op(A) · op(B) + beta · C, all row-major.
    ///
    /// - Parameters:
    ///   - a: `M×K` (or `K×M` when `transposeA`).
    ///   - b: `K×N` (or `N×K` when `transposeB`, the layout of a PyTorch `Linear.weight`).
    ///   - c: `M×N` output.
    public static func gemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, transposeA: Bool = false,
        b: UnsafePointer<Float>, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>,
        alpha: Float = 1, beta: Float = 0
    ) {
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
    }
}
