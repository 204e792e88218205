/// The moekit release, written into every file moekit produces.
public enum MoekitVersion {
    public static let string = "0.1.0"
}
