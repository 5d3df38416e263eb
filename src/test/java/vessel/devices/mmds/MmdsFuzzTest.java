package vessel.devices.mmds;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import vessel.json.JsonValue;

/**
 * The MMDS's two parsers of guest bytes. Whatever the guest sends, the stack must not throw, must keep at
 * most {@link MmdsStack#MAX_CONNECTIONS} connections, must run out of frames to send after a bounded
 * number, and every frame it makes must fit {@link MmdsStack#MAX_FRAME_OUT} with valid checksums; the
 * HTTP parser must not throw and must never claim more bytes than it was given.
 */
class MmdsFuzzTest {
    /** The most frames one guest frame can call for: a whole answer (limit / smallest MSS) and control frames. */
    private static final int MAX_FRAMES_PER_INPUT = MmdsStore.DEFAULT_SIZE_LIMIT / 64 + 1024;

    /** The clock the stores' tokens expire by; each input sets it. */
    private static final AtomicLong CLOCK = new AtomicLong();
    /** One store per version, made once: a store's key comes from SecureRandom, too slow to seed per input. */
    private static final MmdsStore V1 = store(MmdsStore.Version.V1);
    private static final MmdsStore V2 = store(MmdsStore.Version.V2);

    private static MmdsStore store(MmdsStore.Version version) {
        MmdsStore s = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT, CLOCK::get);
        try {
            s.put(JsonValue.parse("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":5},"
                    + "\"big\":\"" + "x".repeat(3000) + "\"}}"));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        s.version(version);
        return s;
    }

    /**
     * Guest frames: raw bytes, or ARP and TCP frames with fuzzed fields and correct checksums (so that the
     * fuzzer gets past them into the TCP state machine and HTTP), on a few ports so connections build up.
     */
    @FuzzTest(maxDuration = "5s")
    void guestFrames(FuzzedDataProvider data) {
        AtomicLong clock = CLOCK;
        clock.set(0);
        MmdsStack stack = new MmdsStack(data.consumeBoolean() ? V2 : V1, MmdsStore.DEFAULT_IPV4, clock::get,
                () -> 0x7FFFFFF0);
        byte[] out = new byte[MmdsStack.MAX_FRAME_OUT];
        for (int frames = data.consumeInt(1, 40); frames > 0 && data.remainingBytes() > 0; frames--) {
            byte[] f = switch (data.consumeInt(0, 3)) {
                case 0 -> data.consumeBytes(data.consumeInt(0, 2000));
                case 1 -> {
                    byte[] a = GuestFrames.arp(data.consumeInt(0, 3), data.consumeBoolean() ? MmdsStore.DEFAULT_IPV4
                            : data.consumeInt());
                    a[12 + 14 + data.consumeInt(0, 27)] = data.consumeByte();
                    yield a;
                }
                default -> {
                    byte[] payload = data.consumeBoolean()
                            ? ("GET /latest/" + data.consumeString(40) + " HTTP/1.1\r\nAccept: application/json\r\n\r\n")
                                    .getBytes(StandardCharsets.ISO_8859_1)
                            : data.consumeBytes(data.consumeInt(0, 600));
                    yield GuestFrames.tcp(MmdsStore.DEFAULT_IPV4, 40000 + data.consumeInt(0, 40),
                            data.consumeBoolean() ? 80 : data.consumeInt(0, 0xFFFF),
                            0x10 + data.consumeInt(-8, 2000), 0x7FFFFFF1 + data.consumeInt(-8, 6000),
                            data.consumeInt(0, 0x3F), data.consumeInt(0, 0xFFFF), payload,
                            data.consumeBoolean() ? data.consumeInt(0, 0xFFFF) : -1);
                }
            };
            if (data.consumeBoolean()) {
                clock.addAndGet(data.consumeLong(0, 2 * MmdsStack.IDLE_TIMEOUT_NANOS));
            }
            if (stack.isForMmds(f, f.length) || data.consumeBoolean()) {
                stack.receive(f, f.length);
            }
            for (int n = 0; stack.hasFrames() || n == 0; n++) {
                if (n > MAX_FRAMES_PER_INPUT) {
                    throw new AssertionError("the stack does not run out of frames to send");
                }
                int len = stack.nextFrame(out);
                if (len == 0) {
                    break;
                }
                check(out, len);
            }
            if (stack.connectionCount() > MmdsStack.MAX_CONNECTIONS) {
                throw new AssertionError(stack.connectionCount() + " connections");
            }
        }
    }

    private static void check(byte[] f, int len) {
        if (len > MmdsStack.MAX_FRAME_OUT || len < 12 + 14 + 28) {
            throw new AssertionError("a frame of " + len + " bytes");
        }
        if (MmdsStack.u16(f, 12 + 12) == 0x0800) {
            int total = MmdsStack.u16(f, 12 + 14 + 2);
            if (12 + 14 + total != len || MmdsStack.checksum(f, 12 + 14, 20, 0) != 0
                    || MmdsStack.checksum(f, 12 + 14 + 20, total - 20, MmdsStack.pseudoHeader(MmdsStore.DEFAULT_IPV4,
                    MmdsStack.i32(f, 12 + 14 + 16), total - 20)) != 0) {
                throw new AssertionError("a malformed frame out");
            }
        }
    }

    /** One request, as many bytes as the connection's buffer holds, against a V1 and a V2 store. */
    @FuzzTest(maxDuration = "5s")
    void httpRequests(byte[] input) {
        byte[] buf = new byte[MmdsStack.RECEIVE_BUFFER];
        int len = Math.min(input.length, buf.length);
        System.arraycopy(input, 0, buf, 0, len);
        for (boolean full : new boolean[] {false, true}) {
            MmdsHttp.Parsed p = MmdsHttp.parse(buf, len, full);
            if (p instanceof MmdsHttp.Parsed.Complete c) {
                if (c.request().length() > len || c.request().length() <= 0) {
                    throw new AssertionError("claimed " + c.request().length() + " of " + len + " bytes");
                }
                for (MmdsStore store : new MmdsStore[] {V1, V2}) {
                    byte[] answer = MmdsHttp.respond(c.request(), store);
                    if (!new String(answer, 0, 9, StandardCharsets.US_ASCII).startsWith("HTTP/1.")) {
                        throw new AssertionError("not an HTTP answer");
                    }
                }
            } else if (p instanceof MmdsHttp.Parsed.Incomplete && full && len == buf.length) {
                throw new AssertionError("a full buffer left incomplete: the connection would wait forever");
            }
        }
    }
}
