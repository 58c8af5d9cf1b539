import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

import ml.combust.bundle.dsl.Bundle;
import ml.combust.mleap.json.DefaultFrameReader;
import ml.combust.mleap.json.DefaultFrameWriter;
import ml.combust.mleap.runtime.frame.DefaultLeapFrame;
import ml.combust.mleap.runtime.frame.Transformer;
import ml.combust.mleap.runtime.javadsl.BundleBuilder;
import ml.combust.mleap.runtime.javadsl.ContextBuilder;

/**
 * Scores a LeapFrame with MLeap's own runtime.
 *
 * <p>Usage: {@code MleapScore BUNDLE INPUT_FRAME.json OUTPUT_FRAME.json}. BUNDLE is a bundle
 * directory or a {@code .zip}; the frames are MLeap's LeapFrame JSON
 * ({@code {"schema": {"fields": [...]}, "rows": [[...]]}}). The output frame is the input with
 * every column the pipeline adds.
 */
public final class MleapScore {
    private MleapScore() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: MleapScore BUNDLE INPUT_FRAME.json OUTPUT_FRAME.json");
            System.exit(2);
        }
        Bundle<Transformer> bundle =
                new BundleBuilder().load(new File(args[0]), new ContextBuilder().createMleapContext());
        byte[] input = Files.readAllBytes(Paths.get(args[1]));
        DefaultLeapFrame frame = new DefaultFrameReader().fromBytes(input, StandardCharsets.UTF_8).get();
        DefaultLeapFrame scored = bundle.root().transform(frame).get();
        byte[] output = new DefaultFrameWriter<>(scored).toBytes(StandardCharsets.UTF_8).get();
        Files.write(Paths.get(args[2]), output);
    }
}
