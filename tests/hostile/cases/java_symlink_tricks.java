import java.nio.file.*;
import java.nio.file.attribute.PosixFilePermissions;
public class Main {
    interface Io { void run() throws Exception; }
    static void t(String what, Io r) {
        try { r.run(); } catch (Exception e) { System.err.println(what + ": " + e); }
    }
    public static void main(String[] a) {
        String m = a[0];
        System.err.println("CWD=" + System.getProperty("user.dir"));
        t("jar", () -> { Files.delete(Paths.get("main.jar")); Files.createSymbolicLink(Paths.get("main.jar"), Paths.get("/etc/passwd")); });
        t("loop", () -> { Files.createSymbolicLink(Paths.get("loop_b"), Paths.get("loop_a")); Files.createSymbolicLink(Paths.get("loop_a"), Paths.get("loop_b")); });
        t("locked", () -> {
            Files.createDirectories(Paths.get("locked/sub"));
            Files.writeString(Paths.get("locked/secret"), "s");
            Files.setPosixFilePermissions(Paths.get("locked/sub"), PosixFilePermissions.fromString("---------"));
            Files.setPosixFilePermissions(Paths.get("locked"), PosixFilePermissions.fromString("---------"));
        });
        t("root", () -> Files.createSymbolicLink(Paths.get("root_dir"), Paths.get("/")));
        t("shm link", () -> Files.createSymbolicLink(Paths.get("/dev/shm/" + m + "-shadow"), Paths.get("/etc/shadow")));
        t("tmp link", () -> Files.createSymbolicLink(Paths.get("/tmp/" + m + "-etc"), Paths.get("/etc")));
        t("escape", () -> Files.writeString(Paths.get("../" + m + "-escape"), "x"));
        System.out.println("planted");
    }
}
