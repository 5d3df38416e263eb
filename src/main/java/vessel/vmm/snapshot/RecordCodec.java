package vessel.vmm.snapshot;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a record as bytes and reads it back, component by component in declaration order, so a device's
 * state is a plain record with no serialization code of its own. Components may be boolean, int, long,
 * String, byte[], int[], long[], an enum, another record, or a List of any of these but primitives.
 *
 * Reading distrusts its input: every length is checked against the bytes left before anything is
 * allocated, nesting is bounded, and a record's own constructor checks (impossible state) run as it is
 * rebuilt. Any failure is a {@link SnapshotFormatException} with one line.
 */
public final class RecordCodec {
    /** Deeper than any state record nests; a hostile file cannot recurse past it. */
    private static final int MAX_DEPTH = 16;

    private RecordCodec() {}

    public static byte[] encode(Record value) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            write(out, value.getClass(), value);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    public static <R extends Record> R decode(byte[] bytes, Class<R> type) throws SnapshotFormatException {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        R value = type.cast(read(in, type, 0));
        if (in.hasRemaining()) {
            throw new SnapshotFormatException(in.remaining() + " bytes follow the " + type.getSimpleName() + " record");
        }
        return value;
    }

    private static void write(DataOutputStream out, Type type, Object value) throws IOException {
        Class<?> raw = rawClass(type);
        if (value == null) {
            throw new IllegalArgumentException("null " + raw.getSimpleName() + " in a state record");
        }
        if (raw == boolean.class || raw == Boolean.class) {
            out.writeBoolean((Boolean) value);
        } else if (raw == int.class || raw == Integer.class) {
            out.writeInt((Integer) value);
        } else if (raw == long.class || raw == Long.class) {
            out.writeLong((Long) value);
        } else if (raw == String.class) {
            byte[] b = ((String) value).getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
        } else if (raw == byte[].class) {
            byte[] b = (byte[]) value;
            out.writeInt(b.length);
            out.write(b);
        } else if (raw == int[].class) {
            int[] a = (int[]) value;
            out.writeInt(a.length);
            for (int v : a) {
                out.writeInt(v);
            }
        } else if (raw == long[].class) {
            long[] a = (long[]) value;
            out.writeInt(a.length);
            for (long v : a) {
                out.writeLong(v);
            }
        } else if (raw.isEnum()) {
            out.writeInt(((Enum<?>) value).ordinal());
        } else if (raw.isRecord()) {
            for (RecordComponent c : raw.getRecordComponents()) {
                try {
                    write(out, c.getGenericType(), c.getAccessor().invoke(value));
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new IllegalStateException("cannot read " + raw.getSimpleName() + "." + c.getName(), e);
                }
            }
        } else if (raw == List.class) {
            Type element = ((ParameterizedType) type).getActualTypeArguments()[0];
            List<?> list = (List<?>) value;
            out.writeInt(list.size());
            for (Object o : list) {
                write(out, element, o);
            }
        } else {
            throw new IllegalArgumentException(raw + " cannot be part of a state record");
        }
    }

    private static Object read(ByteBuffer in, Type type, int depth) throws SnapshotFormatException {
        if (depth > MAX_DEPTH) {
            throw new SnapshotFormatException("state nests deeper than " + MAX_DEPTH);
        }
        Class<?> raw = rawClass(type);
        try {
            if (raw == boolean.class || raw == Boolean.class) {
                byte b = in.get();
                if (b != 0 && b != 1) {
                    throw new SnapshotFormatException("a boolean is " + b);
                }
                return b == 1;
            } else if (raw == int.class || raw == Integer.class) {
                return in.getInt();
            } else if (raw == long.class || raw == Long.class) {
                return in.getLong();
            } else if (raw == String.class) {
                byte[] b = new byte[length(in, 1)];
                in.get(b);
                try {
                    return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
                } catch (CharacterCodingException e) {
                    throw new SnapshotFormatException("a name is not UTF-8");
                }
            } else if (raw == byte[].class) {
                byte[] b = new byte[length(in, 1)];
                in.get(b);
                return b;
            } else if (raw == int[].class) {
                int[] a = new int[length(in, 4)];
                for (int i = 0; i < a.length; i++) {
                    a[i] = in.getInt();
                }
                return a;
            } else if (raw == long[].class) {
                long[] a = new long[length(in, 8)];
                for (int i = 0; i < a.length; i++) {
                    a[i] = in.getLong();
                }
                return a;
            } else if (raw.isEnum()) {
                Object[] constants = raw.getEnumConstants();
                int n = in.getInt();
                if (n < 0 || n >= constants.length) {
                    throw new SnapshotFormatException(raw.getSimpleName() + " number " + n + " is not one Vessel knows");
                }
                return constants[n];
            } else if (raw.isRecord()) {
                RecordComponent[] components = raw.getRecordComponents();
                Object[] args = new Object[components.length];
                Class<?>[] types = new Class<?>[components.length];
                for (int i = 0; i < components.length; i++) {
                    args[i] = read(in, components[i].getGenericType(), depth + 1);
                    types[i] = components[i].getType();
                }
                try {
                    Constructor<?> ctor = raw.getDeclaredConstructor(types);
                    ctor.setAccessible(true);
                    return ctor.newInstance(args);
                } catch (InvocationTargetException e) {
                    // The record refused the values: impossible state, said in its own words.
                    throw new SnapshotFormatException(raw.getSimpleName() + ": " + e.getCause().getMessage());
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot rebuild " + raw.getSimpleName(), e);
                }
            } else if (raw == List.class) {
                Type element = ((ParameterizedType) type).getActualTypeArguments()[0];
                int n = length(in, 1); // every element takes at least one byte
                List<Object> list = new ArrayList<>(Math.min(n, 1024));
                for (int i = 0; i < n; i++) {
                    list.add(read(in, element, depth + 1));
                }
                return List.copyOf(list);
            }
        } catch (BufferUnderflowException e) {
            throw new SnapshotFormatException("state ends inside a " + raw.getSimpleName());
        }
        throw new IllegalArgumentException(raw + " cannot be part of a state record");
    }

    /** A length prefix, refused when its elements could not fit in what is left. */
    private static int length(ByteBuffer in, int elementBytes) throws SnapshotFormatException {
        int n = in.getInt();
        if (n < 0 || (long) n * elementBytes > in.remaining()) {
            throw new SnapshotFormatException("a length of " + Integer.toUnsignedString(n) + " runs past the end of the state");
        }
        return n;
    }

    private static Class<?> rawClass(Type type) {
        if (type instanceof Class<?> c) {
            return c;
        }
        if (type instanceof ParameterizedType p) {
            return (Class<?>) p.getRawType();
        }
        throw new IllegalArgumentException(type + " cannot be part of a state record");
    }
}
