import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import vessel.boot.linux.DecompressedKernel;
import vessel.boot.linux.KernelDecompressor;

/**
 * Host decompression time of a bzImage's kernel: locates the payload, decompresses it and checks the ELF
 * header, several rounds in one JVM (the first is what a `vessel run` pays; later ones show the warmed-up
 * speed). Run by bench/decompress/run.sh, which finds the Debian cloud kernel.
 */
public class KernelDecompressTime {
    public static void main(String[] args) throws Exception {
        Path kernel = Path.of(args[0]);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        long r0 = System.nanoTime();
        byte[] image = Files.readAllBytes(kernel);
        double readMs = (System.nanoTime() - r0) / 1e6;
        System.out.printf(Locale.ROOT, "kernel=%s bytes=%d read_ms=%.1f%n", kernel, image.length, readMs);
        double best = Double.MAX_VALUE;
        double first = 0;
        String format = "";
        for (int round = 0; round < rounds; round++) {
            long t0 = System.nanoTime();
            DecompressedKernel k = KernelDecompressor.decompressKernel(image, kernel.toString());
            double ms = (System.nanoTime() - t0) / 1e6;
            best = Math.min(best, ms);
            first = round == 0 ? ms : first;
            format = k.format().displayName();
            System.out.printf(Locale.ROOT, "round=%d format=%s compressed=%d decompressed=%d entry=0x%x ms=%.1f%n",
                    round, k.format().displayName(), k.payload().length(), k.vmlinux().length, k.elf().entry(), ms);
        }
        System.out.printf(Locale.ROOT, "result: format=%s first_ms=%.1f best_ms=%.1f%n", format, first, best);
    }
}
