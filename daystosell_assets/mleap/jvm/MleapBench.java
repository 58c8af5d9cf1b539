import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;

import ml.combust.bundle.dsl.Bundle;
import ml.combust.mleap.json.DefaultFrameReader;
import ml.combust.mleap.runtime.frame.DefaultLeapFrame;
import ml.combust.mleap.runtime.frame.Transformer;
import ml.combust.mleap.runtime.javadsl.BundleBuilder;
import ml.combust.mleap.runtime.javadsl.ContextBuilder;

/**
 * Times MLeap's own runtime transforming a one-row LeapFrame, the way a scoring server calls it.
 *
 * <p>Usage: {@code MleapBench BUNDLE ONE_ROW_FRAME.json WARMUP ITERATIONS}. Prints one JSON object:
 * the latency percentiles in microseconds over ITERATIONS transforms after WARMUP untimed ones.
 */
public final class MleapBench {
    private MleapBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: MleapBench BUNDLE ONE_ROW_FRAME.json WARMUP ITERATIONS");
            System.exit(2);
        }
        Transformer model = new BundleBuilder()
                .load(new File(args[0]), new ContextBuilder().createMleapContext()).root();
        byte[] input = Files.readAllBytes(Paths.get(args[1]));
        DefaultLeapFrame frame = new DefaultFrameReader().fromBytes(input, StandardCharsets.UTF_8).get();
        int warmup = Integer.parseInt(args[2]);
        int iterations = Integer.parseInt(args[3]);
        long sink = 0;
        for (int i = 0; i < warmup; i++) {
            sink += model.transform(frame).get().collect().size();
        }
        long[] nanos = new long[iterations];
        for (int i = 0; i < iterations; i++) {
            long start = System.nanoTime();
            // collect() forces the row through every stage, as serialising a response would.
            sink += model.transform(frame).get().collect().size();
            nanos[i] = System.nanoTime() - start;
        }
        Arrays.sort(nanos);
        System.out.printf("{\"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, \"iterations\": %d, \"rows\": %d}%n",
                nanos[iterations / 2] / 1e3, nanos[(int) (iterations * 0.9)] / 1e3,
                nanos[(int) (iterations * 0.99)] / 1e3, iterations, sink);
    }
}
