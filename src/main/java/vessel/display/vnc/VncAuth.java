package vessel.display.vnc;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

/**
 * RFB's VNC Authentication (RFC 6143 7.2.2): the client DES-encrypts a 16-byte challenge with the password
 * (its first 8 bytes, zero-padded, each byte's bits reversed, as the original VNC's d3des has it). A weak
 * scheme kept because every VNC client speaks it; it is why plain TCP off loopback needs it at the least.
 */
public final class VncAuth {
    public static final int CHALLENGE_BYTES = 16;
    /** VNC passwords are 8 bytes; the rest of a longer one is ignored by every implementation. */
    public static final int PASSWORD_BYTES = 8;

    private VncAuth() {}

    /** The answer a client holding {@code password} gives to {@code challenge}. */
    public static byte[] response(byte[] password, byte[] challenge) {
        byte[] key = new byte[PASSWORD_BYTES];
        for (int i = 0; i < Math.min(password.length, PASSWORD_BYTES); i++) {
            key[i] = (byte) (Integer.reverse(password[i] & 0xff) >>> 24);
        }
        try {
            Cipher des = Cipher.getInstance("DES/ECB/NoPadding");
            des.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "DES"));
            return des.doFinal(challenge, 0, CHALLENGE_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("DES is not available in this JDK: " + e.getMessage(), e);
        }
    }

    /** Whether {@code answer} is right, compared in constant time. */
    public static boolean check(byte[] password, byte[] challenge, byte[] answer) {
        return MessageDigest.isEqual(response(password, challenge), answer);
    }
}
