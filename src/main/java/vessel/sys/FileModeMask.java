package vessel.sys;

/**
 * The process's file mode creation mask (umask(2)), for files whose permissions must be right from the
 * moment they exist, such as a Unix socket that {@code bind} creates: chmod afterwards would leave a window.
 */
public final class FileModeMask {
    private FileModeMask() {}

    /** Sets the mask and returns the previous one (umask cannot fail). */
    public static int set(int mask) {
        return Libc.umask(mask);
    }

    /**
     * Runs {@code action} with {@code mask} in force, then restores the previous mask. The mask is
     * process-wide: call this only where no other thread is creating files.
     */
    public static <T, E extends Exception> T with(int mask, Action<T, E> action) throws E {
        int previous = set(mask);
        try {
            return action.run();
        } finally {
            set(previous);
        }
    }

    /** What runs under the mask. */
    @FunctionalInterface
    public interface Action<T, E extends Exception> {
        T run() throws E;
    }
}
