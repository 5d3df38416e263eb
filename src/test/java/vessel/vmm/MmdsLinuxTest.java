package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.json.JsonValue;

import vessel.devices.RateLimiter;
import vessel.devices.mmds.MmdsStore;
import vessel.testkit.Cpio;
import vessel.testkit.DefaultImage;
import vessel.testkit.NetNamespace;
import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stock kernel's guest reads the MMDS with busybox's wget over its virtio-net interface: what the host
 * put in the store comes back, first under V1 without a token, then (the host switches the store to V2
 * and changes the data) refused without a token and answered with one made by {@code PUT
 * /latest/api/token} (busybox's nc: its wget has no PUT). That none of it reaches the TAP is checked by
 * VirtioNetMmdsTest; here the TAP only has to exist for the interface to be made.
 */
@vessel.testkit.LinuxGuestTest
class MmdsLinuxTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeLinuxGuests();
    }

    static final String MMDS_CHECKS = """
            ip addr add 169.254.0.2/16 dev eth0 && ip link set eth0 up
            m=http://169.254.169.254
            echo "VESSEL-CHECK mmds_v1=$(wget -q -O - $m/latest/meta-data/ami-id)"
            echo "VESSEL-CHECK mmds_v1_keys=$(wget -q -O - $m/latest/meta-data | tr '\\n' ,)"
            token=
            i=0
            while [ $i -lt 600 ]; do
                token=$(printf 'PUT /latest/api/token HTTP/1.0\\r\\nX-metadata-token-ttl-seconds: 600\\r\\n\\r\\n' \\
                    | nc -w 10 169.254.169.254 80 | tail -n 1)
                phase=$(wget -q -O - --header "X-metadata-token: $token" $m/phase 2>/dev/null)
                [ "$phase" = v2 ] && break
                sleep 1
                i=$((i + 1))
            done
            echo "VESSEL-CHECK mmds_token_chars=${#token}"
            if wget -q -O - $m/latest/meta-data/ami-id >/dev/null 2>&1; then
                echo "VESSEL-CHECK mmds_v2_without_token=answered"
            else
                echo "VESSEL-CHECK mmds_v2_without_token=refused"
            fi
            echo "VESSEL-CHECK mmds_v2=$(wget -q -O - --header "X-metadata-token: $token" $m/latest/meta-data/ami-id)"
            """;

    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void wgetInTheGuestReadsWhatWasPutV1AndV2WithAToken(@TempDir Path tmp) throws Exception {
        NetNamespace ns;
        try {
            ns = NetNamespace.create();
            ns.tool("ip", "tuntap", "add", "vtap0", "mode", "tap");
            ns.tool("ip", "link", "set", "vtap0", "up");
        } catch (Exception | AssertionError e) {
            Assumptions.abort("no network namespace with a TAP here: " + e.getMessage());
            return;
        }
        MmdsStore store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
        store.put(JsonValue.parse("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-12345678\", \"zone\": {\"a\": \"b\"}}}}"));
        Path checks = tmp.resolve("checks.cpio");
        Files.write(checks, new Cpio().directory("etc").directory("etc/vessel-checks.d")
                .file("etc/vessel-checks.d/50-mmds.sh", MMDS_CHECKS, 0644).toBytes());
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).initrd(checks).memory("256M").cpus(1)
                .net(new NetConfig("net0", "vtap0", "52:54:00:12:34:56", RateLimiter.Config.NONE,
                        RateLimiter.Config.NONE, store))
                .cmdline(Files.readString(DefaultImage.file("cmdline")).strip() + " vessel.check=poweroff")
                .build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = ns.run(() -> VirtualMachine.create(config, console))) {
            vm.start();
            long deadline = System.nanoTime() + 50L * 60 * 1_000_000_000L;
            while (!console.text().contains("VESSEL-CHECK mmds_v1_keys=") && System.nanoTime() < deadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            // V1 read: now V2, with new data the guest must fetch with a token.
            store.version(MmdsStore.Version.V2);
            store.put(JsonValue.parse("{\"phase\": \"v2\", \"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\"}}}"));
            VmExit exit = vm.awaitExit(10L * 60 * 1000);
            String out = console.text();
            System.out.printf("MMDS guest test ended after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, exit);
            out.lines().filter(l -> l.contains("VESSEL-CHECK")).forEach(l -> System.out.println("guest: " + l.strip()));
            assertTrue(out.contains("VESSEL-CHECK mmds_v1=ami-12345678"), LinuxBootTest.tail(out));
            // An object's keys, one a line ("/" after a sub-object; no newline after the last): tr made them a list.
            assertTrue(out.lines().anyMatch(l -> l.strip().equals("VESSEL-CHECK mmds_v1_keys=ami-id,zone/")),
                    LinuxBootTest.tail(out));
            assertTrue(out.contains("VESSEL-CHECK mmds_token_chars=43"), LinuxBootTest.tail(out));
            assertTrue(out.contains("VESSEL-CHECK mmds_v2_without_token=refused"), LinuxBootTest.tail(out));
            assertTrue(out.contains("VESSEL-CHECK mmds_v2=ami-87654321"), LinuxBootTest.tail(out));
            assertEquals(VmExit.Reason.POWER_OFF, exit.reason(), LinuxBootTest.tail(out));
            // What did reach the TAP (the guest's own IPv6 and ARP chatter, not the MMDS's): for the log.
            System.out.println(ns.tool("ip", "-s", "link", "show", "vtap0"));
        } finally {
            ns.close();
        }
    }
}
