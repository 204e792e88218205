import COpenBLAS

/// Matrix products through OpenBLAS `cblas_sgemm` (row-major).
public enum Matmul {
    /// Sets OpenBLAS to one thread. moekit parallelises at a coarser level with `Parallel`, and on these machines
    /// a multithreaded sgemm was measured slower for mid-size shapes (OpenBLAS 0.3.21 on 2 vCPUs: 512³ at
    /// 85.6 GFLOP/s with one thread, 51–57 with two; `moekit-bench sgemm` measures it); never nest
    /// our threads around a multithreaded BLAS.
    public static func useSingleThreadedBLAS() {
        openblas_set_num_threads(1)
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
