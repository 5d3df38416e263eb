package vessel.sys;

import java.lang.foreign.MemoryLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Pins {@link Tap}'s ifreq layout, request numbers and flags against linux/if.h and linux/if_tun.h. */
class TapLayoutTest {
    @Test
    void ifreqAndTunRequestsMatchTheKernelHeaders(@TempDir Path dir) throws Exception {
        String probe = """
                #include <stdio.h>
                #include <stddef.h>
                #include <sys/ioctl.h>
                #include <net/if.h>
                #include <linux/if_tun.h>
                int main(void) {
                    printf("sizeof %zu\\n", sizeof(struct ifreq));
                    printf("flags %zu\\n", offsetof(struct ifreq, ifr_flags));
                    printf("namesize %d\\n", IFNAMSIZ);
                    printf("TUNSETIFF %lu\\n", (unsigned long) TUNSETIFF);
                    printf("TUNGETFEATURES %lu\\n", (unsigned long) TUNGETFEATURES);
                    printf("TUNSETOFFLOAD %lu\\n", (unsigned long) TUNSETOFFLOAD);
                    printf("TUNSETVNETHDRSZ %lu\\n", (unsigned long) TUNSETVNETHDRSZ);
                    printf("IFF_TAP %d\\nIFF_NO_PI %d\\nIFF_VNET_HDR %d\\n", IFF_TAP, IFF_NO_PI, IFF_VNET_HDR);
                    printf("TUN_F_CSUM %d\\nTUN_F_TSO4 %d\\nTUN_F_TSO6 %d\\nTUN_F_TSO_ECN %d\\n",
                           TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN);
                    return 0;
                }
                """;
        Map<String, Long> c = new HashMap<>();
        for (String line : NativeTools.compileAndRun(probe, dir).split("\n")) {
            String[] kv = line.trim().split(" ");
            c.put(kv[0], Long.parseUnsignedLong(kv[1]));
        }
        assertEquals(40L, c.get("sizeof"));
        assertEquals(c.get("sizeof"), Tap.IFREQ.byteSize());
        assertEquals(c.get("flags"), Tap.IFREQ.byteOffset(MemoryLayout.PathElement.groupElement("ifr_flags")));
        assertEquals(c.get("namesize"), (long) Tap.IFNAMSIZ);
        assertEquals(c.get("TUNSETIFF"), Tap.TUNSETIFF);
        assertEquals(c.get("TUNGETFEATURES"), Tap.TUNGETFEATURES);
        assertEquals(c.get("TUNSETOFFLOAD"), Tap.TUNSETOFFLOAD);
        assertEquals(c.get("TUNSETVNETHDRSZ"), Tap.TUNSETVNETHDRSZ);
        assertEquals(c.get("IFF_TAP"), (long) Tap.IFF_TAP);
        assertEquals(c.get("IFF_NO_PI"), (long) Tap.IFF_NO_PI);
        assertEquals(c.get("IFF_VNET_HDR"), (long) Tap.IFF_VNET_HDR);
        assertEquals(c.get("TUN_F_CSUM"), (long) Tap.TUN_F_CSUM);
        assertEquals(c.get("TUN_F_TSO4"), (long) Tap.TUN_F_TSO4);
        assertEquals(c.get("TUN_F_TSO6"), (long) Tap.TUN_F_TSO6);
        assertEquals(c.get("TUN_F_TSO_ECN"), (long) Tap.TUN_F_TSO_ECN);
    }
}
