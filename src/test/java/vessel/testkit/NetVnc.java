package vessel.testkit;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real VNC client for the tests: Debian's Net::VNC (libnet-vnc-perl) driven by
 * src/test/resources/vessel/display/vnc/netvnc.pl, which logs in, captures the screen and types.
 */
public final class NetVnc {
    private NetVnc() {}

    /**
     * Logs in to the server at {@code at} (with VNC Authentication if {@code password} is not null), saves the
     * screen to {@code png} (unless null) and types {@code text} ("\n" is Return); returns the script's
     * output. A failed login or connection fails the test with Net::VNC's message.
     */
    public static String run(Path tmp, SocketAddress at, String password, Path png, String text) throws Exception {
        return run(tmp, at, password, png, text, 0.06);
    }

    /** As above, one key every {@code secondsPerKey}: a slow guest loses keys typed faster than it reads them. */
    public static String run(Path tmp, SocketAddress at, String password, Path png, String text, double secondsPerKey)
            throws Exception {
        Path script = tmp.resolve("netvnc.pl");
        try (InputStream in = NetVnc.class.getResourceAsStream("/vessel/display/vnc/netvnc.pl")) {
            Files.write(script, in.readAllBytes());
        }
        Path passwordFile = tmp.resolve("vnc-password");
        Files.writeString(passwordFile, password == null ? "" : password + "\n");
        InetSocketAddress inet = (InetSocketAddress) at;
        return HostTools.run("perl", script.toString(), inet.getHostString(), Integer.toString(inet.getPort()),
                password == null ? "-" : passwordFile.toString(), png == null ? "-" : png.toString(), text, Double.toString(secondsPerKey));
    }
}
