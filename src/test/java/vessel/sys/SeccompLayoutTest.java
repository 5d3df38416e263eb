package vessel.sys;

import java.lang.foreign.MemoryLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Pins the hand-written seccomp pieces against the C headers: every {@link Syscall} number against
 * asm/unistd_64.h, sock_filter and sock_fprog against linux/filter.h, the seccomp_data offsets, return
 * actions and flags against linux/seccomp.h, and the BPF opcodes against linux/bpf_common.h.
 */
class SeccompLayoutTest {
    private static final Map<String, Long> C = new HashMap<>();

    @BeforeAll
    static void compileProbe(@TempDir Path dir) throws Exception {
        StringBuilder c = new StringBuilder("""
                #include <stddef.h>
                #include <stdio.h>
                #include <sys/prctl.h>
                #include <asm/unistd.h>
                #include <asm/unistd_64.h>
                #include <linux/audit.h>
                #include <linux/filter.h>
                #include <linux/seccomp.h>
                #define P(name, value) printf("%s %llu\\n", name, (unsigned long long)(value))
                int main(void) {
                P("sock_filter", sizeof(struct sock_filter));
                P("sock_filter.code", offsetof(struct sock_filter, code));
                P("sock_filter.jt", offsetof(struct sock_filter, jt));
                P("sock_filter.jf", offsetof(struct sock_filter, jf));
                P("sock_filter.k", offsetof(struct sock_filter, k));
                P("sock_fprog", sizeof(struct sock_fprog));
                P("sock_fprog.len", offsetof(struct sock_fprog, len));
                P("sock_fprog.filter", offsetof(struct sock_fprog, filter));
                P("seccomp_data.nr", offsetof(struct seccomp_data, nr));
                P("seccomp_data.arch", offsetof(struct seccomp_data, arch));
                P("seccomp_data.args", offsetof(struct seccomp_data, args));
                P("AUDIT_ARCH_X86_64", AUDIT_ARCH_X86_64);
                P("__X32_SYSCALL_BIT", __X32_SYSCALL_BIT);
                P("SECCOMP_RET_KILL_PROCESS", SECCOMP_RET_KILL_PROCESS);
                P("SECCOMP_RET_ERRNO", SECCOMP_RET_ERRNO);
                P("SECCOMP_RET_LOG", SECCOMP_RET_LOG);
                P("SECCOMP_RET_ALLOW", SECCOMP_RET_ALLOW);
                P("SECCOMP_SET_MODE_FILTER", SECCOMP_SET_MODE_FILTER);
                P("SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC);
                P("PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS);
                P("BPF_MAXINSNS", BPF_MAXINSNS);
                P("LD_W_ABS", BPF_LD | BPF_W | BPF_ABS);
                P("ALU_AND_K", BPF_ALU | BPF_AND | BPF_K);
                P("JMP_JEQ_K", BPF_JMP | BPF_JEQ | BPF_K);
                P("JMP_JSET_K", BPF_JMP | BPF_JSET | BPF_K);
                P("RET_K", BPF_RET | BPF_K);
                """);
        for (Syscall s : Syscall.values()) {
            c.append("P(\"").append(s.kernelName()).append("\", __NR_").append(s.kernelName()).append(");\n");
        }
        c.append("return 0;\n}\n");
        for (String line : NativeTools.compileAndRun(c.toString(), dir).split("\n")) {
            String[] kv = line.trim().split(" ");
            C.put(kv[0], Long.parseUnsignedLong(kv[1]));
        }
    }

    private static long c(String name) {
        Long v = C.get(name);
        assertNotNull(v, "the C probe printed nothing for " + name);
        return v;
    }

    @Test
    void everySyscallNumberIsTheHeaders() {
        for (Syscall s : Syscall.values()) {
            assertEquals(c(s.kernelName()), s.number(), s.kernelName());
        }
    }

    @Test
    void bpfStructsMatchLinuxFilterH() {
        assertEquals(c("sock_filter"), Bpf.SOCK_FILTER.byteSize());
        for (String f : new String[] {"code", "jt", "jf", "k"}) {
            assertEquals(c("sock_filter." + f), Bpf.SOCK_FILTER.byteOffset(MemoryLayout.PathElement.groupElement(f)), f);
        }
        assertEquals(c("sock_fprog"), Bpf.SOCK_FPROG.byteSize());
        assertEquals(c("sock_fprog.len"), Bpf.SOCK_FPROG.byteOffset(MemoryLayout.PathElement.groupElement("len")));
        assertEquals(c("sock_fprog.filter"), Bpf.SOCK_FPROG.byteOffset(MemoryLayout.PathElement.groupElement("filter")));
        assertEquals(c("sock_fprog.filter"), Bpf.FPROG_FILTER_OFFSET);
        assertEquals(c("BPF_MAXINSNS"), Bpf.MAX_INSNS);
        assertEquals(c("LD_W_ABS"), Bpf.LD_W_ABS);
        assertEquals(c("ALU_AND_K"), Bpf.ALU_AND_K);
        assertEquals(c("JMP_JEQ_K"), Bpf.JMP_JEQ_K);
        assertEquals(c("JMP_JSET_K"), Bpf.JMP_JSET_K);
        assertEquals(c("RET_K"), Bpf.RET_K);
    }

    @Test
    void seccompConstantsMatchLinuxSeccompH() {
        assertEquals(c("seccomp_data.nr"), SeccompFilter.DATA_NR);
        assertEquals(c("seccomp_data.arch"), SeccompFilter.DATA_ARCH);
        assertEquals(c("seccomp_data.args"), SeccompFilter.DATA_ARGS);
        assertEquals(c("AUDIT_ARCH_X86_64"), Integer.toUnsignedLong(SeccompFilter.AUDIT_ARCH_X86_64));
        assertEquals(c("__X32_SYSCALL_BIT"), SeccompFilter.X32_SYSCALL_BIT);
        assertEquals(c("SECCOMP_RET_KILL_PROCESS"), Integer.toUnsignedLong(SeccompFilter.RET_KILL_PROCESS));
        assertEquals(c("SECCOMP_RET_ERRNO"), SeccompFilter.RET_ERRNO);
        assertEquals(c("SECCOMP_RET_LOG"), SeccompFilter.RET_LOG);
        assertEquals(c("SECCOMP_RET_ALLOW"), SeccompFilter.RET_ALLOW);
        assertEquals(c("SECCOMP_SET_MODE_FILTER"), Seccomp.SECCOMP_SET_MODE_FILTER);
        assertEquals(c("SECCOMP_FILTER_FLAG_TSYNC"), Seccomp.SECCOMP_FILTER_FLAG_TSYNC);
        assertEquals(c("PR_SET_NO_NEW_PRIVS"), Seccomp.PR_SET_NO_NEW_PRIVS);
    }
}
