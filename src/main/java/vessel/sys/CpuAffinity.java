package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.BitSet;
import java.util.TreeSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Host CPU lists ({@code 0-3,6}, as taskset and cpuset spell them) and pinning the calling thread to
 * them with sched_setaffinity(2): the building block of {@code --cpu-affinity} (vCPU threads on
 * dedicated host CPUs). A cpu_set_t here is the kernel's bitmap of {@value #MASK_BYTES} bytes.
 */
public final class CpuAffinity {
    /** glibc's cpu_set_t: 1024 CPUs. */
    public static final int MASK_BYTES = 128;
    public static final int MAX_CPUS = MASK_BYTES * 8;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SET = call("sched_setaffinity");
    private static final MethodHandle GET = call("sched_getaffinity");

    private CpuAffinity() {}

    private static MethodHandle call(String name) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.captureCallState("errno"));
    }

    /**
     * Parses a CPU list: comma-separated CPU numbers and inclusive ranges, each CPU once at most. A bad
     * list is an IllegalArgumentException whose message is one line saying what is wrong.
     */
    public static int[] parse(String list) {
        if (list == null || list.isBlank()) {
            throw new IllegalArgumentException("the CPU list is empty (e.g. 0-3,6)");
        }
        TreeSet<Integer> seen = new TreeSet<>();
        java.util.List<Integer> order = new java.util.ArrayList<>();
        for (String part : list.split(",", -1)) {
            String p = part.strip();
            int dash = p.indexOf('-');
            int from = number(list, dash < 0 ? p : p.substring(0, dash));
            int to = dash < 0 ? from : number(list, p.substring(dash + 1));
            if (to < from) {
                throw new IllegalArgumentException("CPU range '" + p + "' in '" + list + "' runs backwards");
            }
            for (int c = from; c <= to; c++) {
                if (!seen.add(c)) {
                    throw new IllegalArgumentException("CPU " + c + " appears twice in '" + list + "'");
                }
                order.add(c);
            }
        }
        return order.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int number(String list, String text) {
        try {
            int n = Integer.parseInt(text.strip());
            if (n < 0 || n >= MAX_CPUS) {
                throw new IllegalArgumentException("CPU " + n + " in '" + list + "' is out of range (0 to " + (MAX_CPUS - 1) + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text.strip() + "' in CPU list '" + list
                    + "' is not a CPU number or range (e.g. 0-3,6)");
        }
    }

    /** The CPUs the calling thread may run on now. */
    public static BitSet current() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(MASK_BYTES);
            MemorySegment cap = a.allocate(CAPTURE_LAYOUT);
            int r = (int) GET.invokeExact(cap, 0, (long) MASK_BYTES, mask);
            if (r < 0) {
                throw new SysException("sched_getaffinity", (int) ERRNO.get(cap, 0L));
            }
            return BitSet.valueOf(mask.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** Pins the calling thread to {@code cpus}; EINVAL when none of them is one this process may use. */
    public static void pinCurrentThread(int... cpus) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(MASK_BYTES);
            for (int c : cpus) {
                if (c < 0 || c >= MAX_CPUS) {
                    throw new IllegalArgumentException("CPU " + c + " is out of range");
                }
                mask.set(java.lang.foreign.ValueLayout.JAVA_BYTE, c / 8,
                        (byte) (mask.get(java.lang.foreign.ValueLayout.JAVA_BYTE, c / 8) | (1 << (c % 8))));
            }
            MemorySegment cap = a.allocate(CAPTURE_LAYOUT);
            int r = (int) SET.invokeExact(cap, 0, (long) MASK_BYTES, mask);
            if (r < 0) {
                throw new SysException("sched_setaffinity(" + java.util.Arrays.toString(cpus) + ")", (int) ERRNO.get(cap, 0L));
            }
        } catch (SysException | IllegalArgumentException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }
}
