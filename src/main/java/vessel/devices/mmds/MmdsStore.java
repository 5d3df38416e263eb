package vessel.devices.mmds;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongSupplier;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import vessel.json.JsonArray;
import vessel.json.JsonNull;
import vessel.json.JsonObject;
import vessel.json.JsonPointer;
import vessel.json.JsonString;
import vessel.json.JsonValue;
import vessel.json.JsonWriter;

/**
 * The metadata store of one microVM, as Firecracker's {@code Mmds}: a JSON document replaced by PUT and
 * changed by PATCH (JSON merge patch, RFC 7396) through the API, read by the guest through
 * {@link MmdsHttp}; its serialized size stays within a limit ({@code --mmds-size-limit}). It also holds
 * the service's settings (version, IMDS compatibility) and issues and checks V2 session tokens.
 *
 * <p>Thread-safe: the API thread writes while device threads read. The document is never changed in
 * place: each PUT or PATCH builds a new tree (objects with their keys sorted, as serde_json's map keeps
 * them) and publishes it, so a reader sees the old or the new document, never a mix.
 *
 * <p>Tokens carry their own expiry and a MAC under a key made at start (as Firecracker's encrypted
 * tokens carry theirs), so the store keeps no per-token state a guest could grow.
 */
public final class MmdsStore {
    /** Firecracker's default {@code --mmds-size-limit} (its default API payload limit). */
    public static final int DEFAULT_SIZE_LIMIT = 51_200;
    /** Firecracker's bounds on a token's lifetime. */
    public static final int MIN_TOKEN_TTL_SECONDS = 1;
    public static final int MAX_TOKEN_TTL_SECONDS = 21_600;
    /** The longest token header value looked at: a real one is {@link #TOKEN_CHARS} characters. */
    static final int TOKEN_CHARS = 43;

    /** 169.254.169.254, where guests look for the service unless {@code ipv4_address} says otherwise. */
    public static final int DEFAULT_IPV4 = 0xA9FEA9FE;

    public enum Version { V1, V2 }

    /** How a value is answered: JSON text, or EC2 IMDS's plain text (strings as is, objects as key lists). */
    public enum Format { JSON, IMDS }

    /** What a guest GET finds. */
    public sealed interface Lookup {
        record Found(String body, Format format) implements Lookup { }

        record NotFound() implements Lookup { }

        /** In IMDS format only strings and objects can be shown. */
        record UnsupportedType() implements Lookup { }
    }

    /** A refused PUT or PATCH, with Firecracker's message. */
    public static final class StoreException extends Exception {
        private static final long serialVersionUID = 1L;
        private final boolean limitExceeded;

        StoreException(String message, boolean limitExceeded) {
            super(message);
            this.limitExceeded = limitExceeded;
        }

        /** The document would not fit the size limit (Firecracker answers 413). */
        public boolean limitExceeded() {
            return limitExceeded;
        }
    }

    private static final String HMAC = "HmacSHA256";

    private final int sizeLimit;
    private final LongSupplier clockNanos;
    /** The tokens' MAC key, made on first use: seeding SecureRandom is slow, and most stores never need it. */
    private volatile byte[] key;
    /** Null until the first PUT: a PATCH before it is refused, a guest GET finds nothing. */
    private volatile JsonValue document;
    private volatile Version version = Version.V1;
    private volatile boolean imdsCompat;
    private volatile int ipv4Address = DEFAULT_IPV4;

    public MmdsStore(int sizeLimit) {
        this(sizeLimit, System::nanoTime);
    }

    /** With the clock tokens expire by (nanoseconds, as System.nanoTime); tests give their own. */
    public MmdsStore(int sizeLimit, LongSupplier clockNanos) {
        if (sizeLimit < 0) {
            throw new IllegalArgumentException("MMDS size limit " + sizeLimit + " is negative");
        }
        this.sizeLimit = sizeLimit;
        this.clockNanos = clockNanos;
    }

    private byte[] key() {
        byte[] k = key;
        if (k == null) {
            synchronized (this) {
                if (key == null) {
                    byte[] made = new byte[32];
                    new SecureRandom().nextBytes(made);
                    key = made;
                }
                k = key;
            }
        }
        return k;
    }

    public int sizeLimit() {
        return sizeLimit;
    }

    public Version version() {
        return version;
    }

    public void version(Version v) {
        this.version = v;
    }

    public boolean imdsCompat() {
        return imdsCompat;
    }

    public void imdsCompat(boolean on) {
        this.imdsCompat = on;
    }

    /** The IPv4 address the guest reaches the service at (host order). */
    public int ipv4Address() {
        return ipv4Address;
    }

    public void ipv4Address(int address) {
        this.ipv4Address = address;
    }

    /** PUT /mmds: replaces the whole document. */
    public synchronized void put(JsonValue data) throws StoreException {
        JsonValue sorted = sorted(data);
        checkSize(sorted);
        document = sorted;
    }

    /** PATCH /mmds: RFC 7396 merge patch of the document; refused before the first PUT. */
    public synchronized void patch(JsonValue patch) throws StoreException {
        JsonValue current = document;
        if (current == null) {
            throw new StoreException("The MMDS data store is not initialized.", false);
        }
        JsonValue merged = sorted(mergePatch(current, patch));
        checkSize(merged);
        document = merged;
    }

    /** GET /mmds: the document as compact JSON, {@code {}} before the first PUT (as Firecracker). */
    public String json() {
        JsonValue d = document;
        return d == null ? "{}" : write(d);
    }

    private void checkSize(JsonValue doc) throws StoreException {
        if (write(doc).getBytes(java.nio.charset.StandardCharsets.UTF_8).length > sizeLimit) {
            throw new StoreException("The MMDS patch request doesn't fit.", true);
        }
    }

    /**
     * The value at {@code path} (a JSON pointer, "//" already folded into "/"; one trailing "/" is
     * ignored), in {@code format}, or in IMDS format whatever was asked when IMDS compatibility is on.
     */
    public Lookup lookup(String path, Format format) {
        JsonValue d = document;
        if (d == null) {
            return new Lookup.NotFound();
        }
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        JsonValue node = JsonPointer.at(d, p);
        if (node == null) {
            return new Lookup.NotFound();
        }
        Format f = imdsCompat ? Format.IMDS : format;
        if (f == Format.JSON) {
            return new Lookup.Found(write(node), f);
        }
        if (node instanceof JsonString s) {
            return new Lookup.Found(s.value(), f);
        }
        if (node instanceof JsonObject o) {
            List<String> keys = new ArrayList<>();
            for (Map.Entry<String, JsonValue> e : o.members().entrySet()) {
                keys.add(e.getValue() instanceof JsonObject ? e.getKey() + "/" : e.getKey());
            }
            return new Lookup.Found(String.join("\n", keys), f);
        }
        return new Lookup.UnsupportedType();
    }

    /** A new V2 session token valid for {@code ttlSeconds} (already checked to be in range). */
    public String newToken(int ttlSeconds) {
        if (ttlSeconds < MIN_TOKEN_TTL_SECONDS || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
            throw new IllegalArgumentException("token TTL " + ttlSeconds + " s is out of range");
        }
        long expiry = clockNanos.getAsLong() + ttlSeconds * 1_000_000_000L;
        ByteBuffer b = ByteBuffer.allocate(8 + 24);
        b.putLong(expiry).put(mac(expiry), 0, 24);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b.array());
    }

    /** Whether {@code token} was issued by this store and has not expired. */
    public boolean validToken(String token) {
        if (token == null || token.length() != TOKEN_CHARS) {
            return false;
        }
        byte[] raw;
        try {
            raw = Base64.getUrlDecoder().decode(token);
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (raw.length != 32) {
            return false;
        }
        long expiry = ByteBuffer.wrap(raw).getLong();
        byte[] want = java.util.Arrays.copyOf(mac(expiry), 24);
        byte[] got = java.util.Arrays.copyOfRange(raw, 8, 32);
        return MessageDigest.isEqual(want, got) && clockNanos.getAsLong() - expiry < 0;
    }

    private byte[] mac(long expiry) {
        try {
            Mac m = Mac.getInstance(HMAC);
            m.init(new SecretKeySpec(key(), HMAC));
            return m.doFinal(ByteBuffer.allocate(8).putLong(expiry).array());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }

    /** RFC 7396: objects merge key by key (null removes), anything else replaces. Recursion as deep as the patch. */
    static JsonValue mergePatch(JsonValue target, JsonValue patch) {
        if (!(patch instanceof JsonObject p)) {
            return patch;
        }
        Map<String, JsonValue> out = new LinkedHashMap<>(target instanceof JsonObject t ? t.members() : Map.of());
        for (Map.Entry<String, JsonValue> e : p.members().entrySet()) {
            if (e.getValue() instanceof JsonNull) {
                out.remove(e.getKey());
            } else {
                out.put(e.getKey(), mergePatch(out.get(e.getKey()), e.getValue()));
            }
        }
        return new JsonObject(out);
    }

    /** A copy with every object's keys in sorted order, as Firecracker's serde_json map orders them. */
    static JsonValue sorted(JsonValue node) {
        return switch (node) {
            case JsonObject o -> {
                TreeMap<String, JsonValue> keys = new TreeMap<>();
                for (Map.Entry<String, JsonValue> e : o.members().entrySet()) {
                    keys.put(e.getKey(), sorted(e.getValue()));
                }
                yield new JsonObject(keys);
            }
            case JsonArray a -> new JsonArray(a.elements().stream().map(MmdsStore::sorted).toList());
            default -> node;
        };
    }

    private static String write(JsonValue node) {
        return JsonWriter.write(node);
    }
}
