package vessel.memory;

/**
 * How guest RAM is backed on the host, beyond plain 4 KiB anonymous pages: huge pages (fewer TLB misses
 * for the guest, fewer page-table walks for KVM) and KSM (identical pages of many similar VMs merged).
 *
 * @param hugePages the page size guest RAM asks the host for
 * @param mergeable RAM is offered to KSM (madvise MADV_MERGEABLE); merges happen only while the host
 *                  runs ksmd ({@code /sys/kernel/mm/ksm/run} = 1)
 */
public record MemoryBacking(HugePages hugePages, boolean mergeable) {
    /** Firecracker's huge_pages values, and what each maps guest RAM with. */
    public enum HugePages {
        /** 4 KiB pages (the host's THP policy still applies where it is "always"). */
        NONE("None"),
        /** Transparent huge pages: madvise(MADV_HUGEPAGE); the kernel uses 2 MiB pages where it can get them. */
        TRANSPARENT("Transparent"),
        /** hugetlbfs pages of 2 MiB (MAP_HUGETLB), reserved from the host's pool when the VM starts. */
        HUGETLB_2M("2M");

        private final String apiName;

        HugePages(String apiName) {
            this.apiName = apiName;
        }

        /** The value's name in Firecracker's API (None, Transparent, 2M). */
        public String apiName() {
            return apiName;
        }

        /** From the API's or the command line's spelling (case-insensitive); null if it is none of them. */
        public static HugePages parse(String name) {
            for (HugePages p : values()) {
                if (p.apiName.equalsIgnoreCase(name)) {
                    return p;
                }
            }
            return null;
        }
    }

    public static final MemoryBacking DEFAULT = new MemoryBacking(HugePages.NONE, false);

    public MemoryBacking {
        hugePages = hugePages == null ? HugePages.NONE : hugePages;
    }
}
