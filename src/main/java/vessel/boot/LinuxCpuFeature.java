package vessel.boot;

/**
 * CPU features as Linux numbers them for {@code clearcpuid=}: X86_FEATURE_x = word * 32 + bit, where
 * the word is the kernel's slot for one CPUID register ({@link Word}) and the bit is the register's own.
 * Each feature is named here by where the CPU reports it (leaf, register, bit), never by its number.
 *
 * <p>Only the hardware-defined words are used, which the kernel has kept in place since they were
 * added: word 4 (leaf 1 ECX) since the 2.6 kernels and word 9 (leaf 7.0 EBX) since 3.x, unchanged in
 * arch/x86/include/asm/cpufeatures.h through 6.x (the existing clearcpuid=151 for POPCNT and 308 for
 * SMAP are these words). Where the kernel being booted is at hand as a vmlinux (host decompression,
 * or an ELF kernel), its own x86_cap_flags table confirms each number by name before it is used
 * ({@link #numberIn}); a kernel booted through its own decompressor is taken to follow the layout.
 *
 * <p>clearcpuid= takes a number on every kernel (names only since 5.19) and goes through
 * setup_clear_cpu_cap, which also clears what depends on the feature in the kernel's cpuid_deps table
 * (arch/x86/kernel/cpu/cpuid-deps.c, since 4.15): hiding AVX hides AVX2, FMA, VAES, VPCLMULQDQ and
 * AVX-512 with it. Dependents that table does not list are named with the host probes (vmm.HostProbe).
 */
public enum LinuxCpuFeature {
    PCLMULQDQ(Word.LEAF_1_ECX, 1, "pclmulqdq"),
    SSSE3(Word.LEAF_1_ECX, 9, "ssse3"),
    SSE4_1(Word.LEAF_1_ECX, 19, "sse4_1"),
    SSE4_2(Word.LEAF_1_ECX, 20, "sse4_2"),
    POPCNT(Word.LEAF_1_ECX, 23, "popcnt"),
    AES(Word.LEAF_1_ECX, 25, "aes"),
    XSAVE(Word.LEAF_1_ECX, 26, "xsave"),
    AVX(Word.LEAF_1_ECX, 28, "avx"),
    AVX2(Word.LEAF_7_0_EBX, 5, "avx2"),
    AVX512F(Word.LEAF_7_0_EBX, 16, "avx512f"),
    SMAP(Word.LEAF_7_0_EBX, 20, "smap"),
    SHA_NI(Word.LEAF_7_0_EBX, 29, "sha_ni");

    /** A CPUID register and the index of the 32-bit word Linux keeps it in (its capability array). */
    public enum Word {
        LEAF_1_ECX(0x1, 0, "ecx", 4),
        LEAF_7_0_EBX(0x7, 0, "ebx", 9);

        public final int leaf;
        public final int subleaf;
        public final String register;
        public final int linuxWord;

        Word(int leaf, int subleaf, String register, int linuxWord) {
            this.leaf = leaf;
            this.subleaf = subleaf;
            this.register = register;
            this.linuxWord = linuxWord;
        }
    }

    public final Word word;
    public final int bit;
    /** The kernel's name for it (/proc/cpuinfo, x86_cap_flags). */
    public final String cpuinfoName;

    LinuxCpuFeature(Word word, int bit, String cpuinfoName) {
        this.word = word;
        this.bit = bit;
        this.cpuinfoName = cpuinfoName;
    }

    /** The kernel's X86_FEATURE_ number. */
    public int linuxNumber() {
        return word.linuxWord * 32 + bit;
    }

    /** The kernel option that hides it from the kernel (and its cpuid_deps dependents). */
    public String clearOption() {
        return "clearcpuid=" + linuxNumber();
    }

    /**
     * Its number in a kernel's own feature table: {@link #linuxNumber()} when the table names that
     * entry {@link #cpuinfoName}, else wherever the table has the name, else (a kernel that does not
     * know the feature) {@link #linuxNumber()}.
     */
    public int numberIn(vessel.boot.linux.CapFlagTable table) {
        if (table.nameOf(linuxNumber()).filter(cpuinfoName::equals).isPresent()) {
            return linuxNumber();
        }
        return table.numberOf(cpuinfoName).orElse(linuxNumber());
    }
}
