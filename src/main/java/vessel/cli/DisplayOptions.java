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
                                   uses 8 characters), for --vnc and --web alike; needed for either
                                   on a non-loopback address
              --web ADDRESS        a browser console on http://HOST:PORT/ (a bare PORT is on
                                   127.0.0.1): the display through noVNC and the serial console
                                   through xterm.js (vessel run only; fetched once by
                                   scripts/web-assets.sh); implies --display 1024x768x32""";

    DisplayMode mode;
    SocketAddress vnc;
    Path passwordFile;
    InetSocketAddress web;

    /** Takes {@code opt} if it is one of these options; false if it is not. */
    boolean take(String opt, String value) throws UsageException, ConfigException {
        switch (opt) {
            case "--display" -> mode = VmConfig.parseDisplayMode(value);
            case "--vnc" -> vnc = parseAddress(value);
            case "--vnc-password-file" -> passwordFile = Path.of(value);
            case "--web" -> web = parseWebAddress(value);
            default -> {
                return false;
            }
        }
        return true;
    }

    static boolean isOption(String opt) {
        return opt.equals("--display") || opt.equals("--vnc") || opt.equals("--vnc-password-file")
                || opt.equals("--web");
    }

    /** The display mode the VM gets: the one given, or a default one when only a VNC server is asked for. */
    DisplayMode modeForVm() {
        return mode != null ? mode : vnc != null || web != null ? DisplayMode.of(1024, 768, 32) : null;
    }

    /** Checks the combination and reads the password, before anything is started. */
    VncServer.Options vncOptions() throws UsageException {
        if (web != null && passwordFile == null && !web.getAddress().isLoopbackAddress()) {
            throw new UsageException("--web on " + web.getAddress().getHostAddress() + " (not a loopback address) needs"
                    + " a password (--vnc-password-file FILE): without one anyone who can reach the port has the"
                    + " guest's display and serial console");
        }
        if (vnc == null) {
            if (passwordFile != null && web == null) {
                throw new UsageException("--vnc-password-file needs --vnc ADDRESS or --web ADDRESS");
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

    /**
     * Starts the browser console if asked for, on {@code vnc} (the VNC server, which serves its RFB
     * WebSockets; one without a listener of its own when there is no --vnc), with the same password. A busy
     * port is a usage error (the address is the user's choice); missing assets one IOException line.
     */
    vessel.display.web.WebConsole startWeb(VncServer vnc, DisplaySource source, vessel.devices.input.InputSink input,
                                           vessel.display.web.SerialFanOut serialOutput,
                                           vessel.display.web.WebConsole.SerialInput serialInput)
            throws IOException, UsageException {
        if (web == null) {
            return null;
        }
        String dir = System.getProperty("vessel.web.dir");
        Path assets = dir != null ? Path.of(dir) : Path.of(".cache", "web");
        vessel.display.web.WebConsole.checkAssets(assets);
        byte[] password = passwordFile == null ? null : readPassword(passwordFile);
        VncServer rfb = vnc;
        if (rfb == null) {
            rfb = VncServer.withoutListener(password, source, input);
        }
        vessel.display.web.WebConsole console;
        try {
            console = vessel.display.web.WebConsole.start(web, assets, rfb, password, serialOutput, serialInput);
        } catch (java.net.BindException e) {
            throw new UsageException(e.getMessage());
        }
        InetSocketAddress at = console.localAddress();
        System.err.println("vessel: browser console on http://" + at.getAddress().getHostAddress() + ":" + at.getPort() + "/");
        return console;
    }

    static InetSocketAddress parseWebAddress(String s) throws UsageException {
        if (s.startsWith("unix:")) {
            throw new UsageException("--web takes HOST:PORT (a browser cannot open a Unix socket), not '" + s + "'");
        }
        SocketAddress a;
        try {
            a = parseAddress(s);
        } catch (UsageException e) {
            throw new UsageException(e.getMessage().replace("--vnc", "--web"));
        }
        return (InetSocketAddress) a;
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
