package vessel.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import vessel.devices.display.DisplayMode;
import vessel.display.DisplaySource;
import vessel.display.vnc.VncServer;
import vessel.vmm.ConfigException;
import vessel.vmm.VmConfig;

/** {@code --display}, {@code --vnc} and {@code --vnc-password-file}, shared by {@code vessel run} and {@code vessel api}. */
final class DisplayOptions {
    static final String HELP = """
              --display WxHxD      a linear framebuffer of W x H pixels of D bits (16, 24 or 32;
                                   e.g. 1024x768x32) that Linux's EFI framebuffer console uses
                                   with no driver to load (see it with --vnc or vessel screenshot)
              --vnc ADDRESS        serve the display over VNC (RFB 3.8) on HOST:PORT (a bare PORT
                                   is on 127.0.0.1) or unix:PATH; implies --display 1024x768x32
              --vnc-password-file FILE
                                   VNC Authentication with the password on FILE's first line (VNC
                                   uses 8 characters); needed for --vnc on a non-loopback address""";

    DisplayMode mode;
    SocketAddress vnc;
    Path passwordFile;

    /** Takes {@code opt} if it is one of these options; false if it is not. */
    boolean take(String opt, String value) throws UsageException, ConfigException {
        switch (opt) {
            case "--display" -> mode = VmConfig.parseDisplayMode(value);
            case "--vnc" -> vnc = parseAddress(value);
            case "--vnc-password-file" -> passwordFile = Path.of(value);
            default -> {
                return false;
            }
        }
        return true;
    }

    static boolean isOption(String opt) {
        return opt.equals("--display") || opt.equals("--vnc") || opt.equals("--vnc-password-file");
    }

    /** The display mode the VM gets: the one given, or a default one when only a VNC server is asked for. */
    DisplayMode modeForVm() {
        return mode != null ? mode : vnc != null ? DisplayMode.of(1024, 768, 32) : null;
    }

    /** Checks the combination and reads the password, before anything is started. */
    VncServer.Options vncOptions() throws UsageException {
        if (vnc == null) {
            if (passwordFile != null) {
                throw new UsageException("--vnc-password-file needs --vnc ADDRESS");
            }
            return null;
        }
        byte[] password = passwordFile == null ? null : readPassword(passwordFile);
        try {
            return new VncServer.Options(vnc, password, "vessel");
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** Starts the VNC server if asked for; a busy port is one line (an IOException). */
    VncServer startVnc(VncServer.Options options, DisplaySource source, vessel.devices.input.InputSink input)
            throws IOException {
        if (options == null) {
            return null;
        }
        VncServer server = VncServer.start(options, source, input);
        System.err.println("vessel: VNC server on " + where(server.localAddress()));
        return server;
    }

    private static String where(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i.getHostString() + ":" + i.getPort() : a.toString();
    }

    static SocketAddress parseAddress(String s) throws UsageException {
        if (s.startsWith("unix:")) {
            if (s.length() == 5) {
                throw new UsageException("--vnc unix: needs a path, e.g. unix:/run/vessel/vnc.sock");
            }
            return UnixDomainSocketAddress.of(s.substring(5));
        }
        int colon = s.lastIndexOf(':');
        String host = colon < 0 ? "127.0.0.1" : s.substring(0, colon);
        String port = colon < 0 ? s : s.substring(colon + 1);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            p = -1;
        }
        if (p < 0 || p > 65535 || host.isEmpty()) {
            throw new UsageException("--vnc takes HOST:PORT (port 0 to 65535) or unix:PATH, not '" + s + "'");
        }
        InetSocketAddress a = new InetSocketAddress(host, p);
        if (a.isUnresolved()) {
            throw new UsageException("--vnc: unknown host '" + host + "'");
        }
        return a;
    }

    private static byte[] readPassword(Path file) throws UsageException {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            int nl = text.indexOf('\n');
            String line = (nl < 0 ? text : text.substring(0, nl)).replace("\r", "");
            if (line.isEmpty()) {
                throw new UsageException("VNC password file " + file + " has an empty first line");
            }
            return line.getBytes(StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UsageException("VNC password file " + file + " does not exist");
        } catch (IOException e) {
            throw new UsageException("VNC password file " + file + " cannot be read: " + e.getMessage());
        }
    }
}
