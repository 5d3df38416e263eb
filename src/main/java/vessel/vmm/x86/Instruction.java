package vessel.vmm.x86;

/**
 * A decoded instruction: enough of it to compute an effective address and to pick its semantics.
 *
 * @param length       bytes, prefixes included
 * @param opcodeMap    0 (one-byte), 1 (0F), 2 (0F 38), 3 (0F 3A)
 * @param opcode       the opcode byte within its map
 * @param rep          F3 prefix present; {@code repne} F2
 * @param opsizePrefix 66 prefix present (for SSE instructions a mandatory prefix that selects the form,
 *                     which {@code operandSize} alone does not tell once REX.W is there)
 * @param operandSize  2, 4 or 8 bytes
 * @param addressSize  2, 4 or 8 bytes
 * @param segment      segment override prefix byte (0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65), or 0
 * @param hasModrm     whether {@code mod}, {@code reg}, {@code rm} and the addressing fields are valid
 * @param reg          ModRM.reg extended by REX.R
 * @param rm           ModRM.rm extended by REX.B (a register when {@code mod == 3})
 * @param base         SIB base extended by REX.B, or -1; {@code index} likewise with REX.X, -1 for none
 * @param ripRelative  64-bit RIP-relative addressing (mod 00, rm 101)
 * @param imm8         the first immediate byte, when the instruction has one
 */
public record Instruction(int length, int opcodeMap, int opcode, boolean lock, boolean rep, boolean repne,
                          boolean opsizePrefix, int operandSize, int addressSize, int segment, boolean hasModrm, int mod, int reg, int rm,
                          int base, int index, int scale, long displacement, boolean ripRelative, int imm8) {
    public boolean memoryOperand() {
        return hasModrm && mod != 3;
    }
}
