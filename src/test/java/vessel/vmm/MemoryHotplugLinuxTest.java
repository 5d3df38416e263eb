package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.VirtioMem;
import vessel.testkit.Cpio;
import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;
import vessel.testkit.ResidentPages;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stock kernel's virtio_mem driver plugs what the host requests: MemTotal in /proc/meminfo grows by it (blocks
 * onlined movable by memhp_default_state), the guest fills it, and the host's resident memory behind the region
 * grows; asked for nothing again, the guest unplugs, MemTotal falls back and the region's pages go back to the host.
 */
@vessel.testkit.LinuxGuestTest
class MemoryHotplugLinuxTest {
    static final long PLUG = 256L << 20;

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeLinuxGuests();
    }

    static final String CHECKS = """
            kb() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }
            before=$(kb)
            echo "VESSEL-CHECK mem_before_kb=$before"
            i=0
            while [ $i -lt 1200 ] && [ "$(kb)" -lt $((before + 200000)) ]; do
                for s in /sys/devices/system/memory/memory*/state; do
                    [ "$(cat $s)" = offline ] && echo online_movable > $s 2>/dev/null
                done
                sleep 1
                i=$((i + 1))
            done
            echo "VESSEL-CHECK mem_plugged_kb=$(kb)"
            mount -o remount,size=400M /tmp
            dd if=/dev/zero of=/tmp/fill bs=1M count=300 2>/dev/null
            echo "VESSEL-CHECK mem_filled=$(du -m /tmp/fill | cut -f1)"
            rm -f /tmp/fill
            i=0
            while [ $i -lt 1200 ] && [ "$(kb)" -gt $((before + 1024)) ]; do
                sleep 1
                i=$((i + 1))
            done
            echo "VESSEL-CHECK mem_unplugged_kb=$(kb)"
            """;

    private static long check(String out, String key) {
        Matcher m = Pattern.compile("VESSEL-CHECK " + key + "=(\\d+)").matcher(out);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static void await(GuestRunTest.Console console, VirtualMachine vm, String marker, long minutes)
            throws InterruptedException {
        long deadline = System.nanoTime() + minutes * 60_000_000_000L;
        while (!console.text().contains(marker) && System.nanoTime() < deadline && vm.state() != VirtualMachine.State.ENDED) {
            Thread.sleep(200);
        }
    }

    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void hotPluggedMemoryShowsInMeminfoAndUnpluggedMemoryLeavesTheHost(@TempDir Path tmp) throws Exception {
        Path checks = tmp.resolve("checks.cpio");
        Files.write(checks, new Cpio().directory("etc").directory("etc/vessel-checks.d")
                .file("etc/vessel-checks.d/50-mem.sh", CHECKS, 0644).toBytes());
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).initrd(checks).memory("256M").cpus(1)
                .memoryHotplug(new MemoryHotplugConfig(1024, 2, 128))
                .cmdline(Files.readString(DefaultImage.file("cmdline")).strip()
                        + " memhp_default_state=online_movable vessel.check=poweroff")
                .build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            VirtioMem mem = vm.memoryHotplug();
            vm.start();
            await(console, vm, "VESSEL-CHECK mem_before_kb=", 45);
            long rssBefore = ResidentPages.bytes(mem.region().host());
            mem.setRequestedSize(PLUG);
            await(console, vm, "VESSEL-CHECK mem_filled=", 20);
            long rssPlugged = ResidentPages.bytes(mem.region().host());
            VirtioMem.Status plugged = mem.status();
            mem.setRequestedSize(0);
            await(console, vm, "VESSEL-CHECK mem_unplugged_kb=", 20);
            long rssUnplugged = ResidentPages.bytes(mem.region().host());
            VirtioMem.Status unplugged = mem.status();
            VmExit exit = vm.awaitExit(10L * 60 * 1000);
            String out = console.text();
            System.out.printf("memory hot-plug guest test ended after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, exit);
            out.lines().filter(l -> l.contains("VESSEL-CHECK") || l.contains("virtio_mem"))
                    .forEach(l -> System.out.println("guest: " + l.strip()));
            System.out.printf("virtio-mem: MemTotal %d kB before, %d kB plugged, %d kB unplugged; region resident %d KiB"
                            + " before, %d KiB plugged and filled, %d KiB after unplug; device %s then %s; %s%n",
                    check(out, "mem_before_kb"), check(out, "mem_plugged_kb"), check(out, "mem_unplugged_kb"),
                    rssBefore >> 10, rssPlugged >> 10, rssUnplugged >> 10, plugged, unplugged, mem.counters());
            long before = check(out, "mem_before_kb");
            assertTrue(before > 0, LinuxBootTest.tail(out));
            assertEquals(PLUG, plugged.pluggedSize(), LinuxBootTest.tail(out));
            assertTrue(check(out, "mem_plugged_kb") - before >= (PLUG >> 10) - 1024, LinuxBootTest.tail(out));
            assertTrue(rssPlugged - rssBefore >= 64L << 20, "the filled guest used the region: " + (rssPlugged >> 10));
            assertEquals(0, unplugged.pluggedSize(), LinuxBootTest.tail(out));
            assertTrue(check(out, "mem_unplugged_kb") <= before + 1024, LinuxBootTest.tail(out));
            assertTrue(rssUnplugged < 8L << 20, "unplugged blocks left the host: " + (rssUnplugged >> 10) + " KiB");
            assertEquals(VmExit.Reason.POWER_OFF, exit.reason(), LinuxBootTest.tail(out));
        }
    }
}
