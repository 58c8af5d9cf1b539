import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import ml.combust.bundle.BundleFile;
import ml.combust.bundle.dsl.Bundle;
import ml.combust.bundle.dsl.BundleInfo;
import ml.combust.bundle.serializer.BundleSerializer;
import ml.combust.bundle.serializer.SerializationFormat;
import ml.combust.mleap.runtime.MleapContext;
import ml.combust.mleap.runtime.frame.Transformer;
import ml.combust.mleap.runtime.javadsl.BundleBuilder;
import ml.combust.mleap.runtime.javadsl.ContextBuilder;

/**
 * Loads a bundle with MLeap's own runtime and writes it back in another serialization format.
 *
 * <p>Usage: {@code MleapConvert json|protobuf SOURCE DEST [SOURCE DEST ...]}. Each SOURCE and DEST is a
 * bundle directory or a {@code .zip} file; DEST must not exist yet. bundle.json keeps the source's uid,
 * name, version and timestamp; only its format changes, so both bundles describe themselves the same way.
 * Every stage is written by MLeap's runtime from the model it loaded, so this shows what MLeap itself
 * writes. Several pairs share one JVM start; a pair that fails is reported on stderr as
 * {@code FAILED SOURCE: reason} and the others still run (exit status 1 if any failed).
 *
 * <p>One fix-up: MLeap 0.20 to 0.22's runtime writes a decision tree's nodes to {@code nodes.json} /
 * {@code nodes.pb} but reads them (as its Spark serialiser and MLeap 0.23+ write them) from
 * {@code tree.json} / {@code tree.pb}, so it could not load its own output; the files are renamed to
 * {@code tree.*}, giving the bundle every other MLeap writes.
 */
public final class MleapConvert {
    private MleapConvert() {}

    public static void main(String[] args) {
        if (args.length < 3 || args.length % 2 != 1 || !(args[0].equals("json") || args[0].equals("protobuf"))) {
            System.err.println("usage: MleapConvert json|protobuf SOURCE DEST [SOURCE DEST ...]");
            System.exit(2);
        }
        SerializationFormat format = args[0].equals("json")
                ? SerializationFormat.Json$.MODULE$ : SerializationFormat.Protobuf$.MODULE$;
        MleapContext context = new ContextBuilder().createMleapContext();
        int failed = 0;
        for (int i = 1; i < args.length; i += 2) {
            try {
                convert(new File(args[i]), new File(args[i + 1]), format, context);
            } catch (Exception | LinkageError e) {
                failed++;
                System.err.println("FAILED " + args[i] + ": " + String.valueOf(e).replace('\n', ' '));
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void convert(File source, File dest, SerializationFormat format, MleapContext context)
            throws Exception {
        if (dest.exists()) {
            throw new IllegalArgumentException(dest + " already exists");
        }
        Bundle<Transformer> bundle = new BundleBuilder().load(source, context);
        BundleInfo info = bundle.info();
        BundleInfo converted = new BundleInfo(info.uid(), info.name(), format, info.version(), info.timestamp(),
                info.meta());
        BundleFile file = BundleFile.apply(dest);
        try {
            new BundleSerializer<MleapContext>(context, file, context)
                    .write(new Bundle<Transformer>(converted, bundle.root())).get();
            renameTreeFiles(file.path());
        } finally {
            file.close();  // a zip is only written out when its file system closes
        }
    }

    private static void renameTreeFiles(Path root) throws IOException {
        List<Path> found;
        try (Stream<Path> walk = Files.walk(root)) {
            found = walk.filter(p -> p.getFileName() != null
                    && (p.getFileName().toString().equals("nodes.json") || p.getFileName().toString().equals("nodes.pb")))
                    .collect(Collectors.toList());
        }
        for (Path nodes : found) {
            String extension = nodes.getFileName().toString().substring("nodes".length());
            Files.move(nodes, nodes.resolveSibling("tree" + extension));
        }
    }
}
