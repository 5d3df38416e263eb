package vessel.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import vessel.vmm.CpuTemplate;

/**
 * PUT /cpu-config's body into a {@link CpuTemplate}, checked as Firecracker checks a custom CPU template:
 * leaf, subleaf and MSR addresses as decimal, "0x" hex or "0b" binary strings; bitmaps as "0b" and one
 * character per bit (0, 1, or x to leave the bit alone), 32 for a CPUID register and 64 for an MSR;
 * capabilities as decimal numbers, "!" in front for one to drop from the required list.
 */
final class CpuConfigParser {
    private static final String E = "Configure CPU error: ";

    private CpuConfigParser() {}

    static CpuTemplate parse(Model.CpuConfig c) throws ApiException {
        List<Integer> caps = new ArrayList<>();
        for (String cap : c.kvmCapabilities()) {
            String digits = cap.startsWith("!") ? cap.substring(1) : cap;
            int n;
            try {
                n = Integer.parseInt(digits);
            } catch (NumberFormatException e) {
                throw new ApiException(E + "invalid KVM capability `" + cap + "` (a number, or ! and a number)");
            }
            if (n < 0) {
                throw new ApiException(E + "invalid KVM capability `" + cap + "`");
            }
            if (!cap.startsWith("!")) {
                caps.add(n);
            } else {
                caps.remove(Integer.valueOf(n));
            }
        }
        List<CpuTemplate.CpuidChange> cpuid = new ArrayList<>();
        for (Model.CpuidLeafModifier m : c.cpuidModifiers()) {
            List<CpuTemplate.RegisterChange> regs = new ArrayList<>();
            for (Model.CpuidRegisterModifier r : m.modifiers()) {
                CpuTemplate.Register register;
                try {
                    register = CpuTemplate.Register.valueOf(r.register().toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new ApiException(Json.PREFIX + "unknown variant `" + r.register()
                            + "`, expected one of `eax`, `ebx`, `ecx`, `edx`.");
                }
                if (!r.register().equals(r.register().toLowerCase(Locale.ROOT))) {
                    throw new ApiException(Json.PREFIX + "unknown variant `" + r.register()
                            + "`, expected one of `eax`, `ebx`, `ecx`, `edx`.");
                }
                regs.add(new CpuTemplate.RegisterChange(register, bitmap(r.bitmap(), 32)));
            }
            cpuid.add(new CpuTemplate.CpuidChange((int) number(m.leaf(), "leaf", 32),
                    (int) number(m.subleaf(), "subleaf", 32), m.flags(), regs));
        }
        List<CpuTemplate.MsrChange> msrs = new ArrayList<>();
        for (Model.MsrModifier m : c.msrModifiers()) {
            msrs.add(new CpuTemplate.MsrChange((int) number(m.addr(), "addr", 32), bitmap(m.bitmap(), 64)));
        }
        return new CpuTemplate(caps, cpuid, msrs);
    }

    /** "0x..", "0b.." or decimal, at most {@code bits} wide. */
    static long number(String s, String field, int bits) throws ApiException {
        try {
            long v;
            if (s.startsWith("0x") || s.startsWith("0X")) {
                v = Long.parseUnsignedLong(s.substring(2), 16);
            } else if (s.startsWith("0b") || s.startsWith("0B")) {
                v = Long.parseUnsignedLong(s.substring(2), 2);
            } else {
                v = Long.parseUnsignedLong(s);
            }
            if (bits < 64 && Long.compareUnsigned(v, (1L << bits) - 1) > 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ApiException(Json.PREFIX + "invalid " + field + " `" + s
                    + "`: expected a " + bits + "-bit number as decimal, 0x hex or 0b binary.");
        }
    }

    /** "0b" and {@code bits} of 0, 1 or x, most significant first. */
    static CpuTemplate.BitChange bitmap(String s, int bits) throws ApiException {
        if (!s.startsWith("0b") || s.length() != bits + 2) {
            throw new ApiException(Json.PREFIX + "invalid bitmap `" + s + "`: expected 0b and " + bits
                    + " characters of 0, 1 or x.");
        }
        long mask = 0;
        long value = 0;
        for (int i = 0; i < bits; i++) {
            char ch = s.charAt(2 + i);
            long bit = 1L << (bits - 1 - i);
            switch (ch) {
                case '0' -> mask |= bit;
                case '1' -> {
                    mask |= bit;
                    value |= bit;
                }
                case 'x', 'X' -> { }
                default -> throw new ApiException(Json.PREFIX + "invalid bitmap `" + s + "`: `" + ch
                        + "` is not 0, 1 or x.");
            }
        }
        return new CpuTemplate.BitChange(mask, value);
    }
}
