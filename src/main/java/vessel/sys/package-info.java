/**
 * The C library through {@code java.lang.foreign}: the only place that makes downcalls or turns raw
 * addresses into segments. Everything above sees typed wrappers and {@link vessel.sys.SysException}.
 */
package vessel.sys;
