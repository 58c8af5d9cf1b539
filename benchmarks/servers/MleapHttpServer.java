import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import ml.combust.mleap.json.DefaultFrameReader;
import ml.combust.mleap.json.DefaultFrameWriter;
import ml.combust.mleap.runtime.frame.DefaultLeapFrame;
import ml.combust.mleap.runtime.frame.Transformer;
import ml.combust.mleap.runtime.javadsl.BundleBuilder;
import ml.combust.mleap.runtime.javadsl.ContextBuilder;
import scala.collection.JavaConverters;

/**
 * MLeap's own runtime behind the JDK's built-in HTTP server: the stand-in for mleap-spring-boot, which Maven
 * Central does not serve for any version (see benchmarks/serving_load.py).
 *
 * <p>Usage: {@code MleapHttpServer BUNDLE PORT THREADS}. Loads BUNDLE before it binds PORT, then serves
 * <ul>
 *   <li>{@code POST /models/days_to_sell/transform}: a LeapFrame JSON body, read with MLeap's
 *       {@code DefaultFrameReader}, transformed, and answered with the frame's {@code prediction} column as a
 *       LeapFrame written by MLeap's {@code DefaultFrameWriter} (as mleap-spring-boot's LeapFrame endpoint
 *       does, less the columns the caller never reads);</li>
 *   <li>{@code GET /health/ready}: 200 once the bundle is loaded (it is before the socket is bound).</li>
 * </ul>
 * A bad frame is a 400 and a failed transform a 500, each with the reason as plain text.
 */
public final class MleapHttpServer {
    private MleapHttpServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: MleapHttpServer BUNDLE PORT THREADS");
            System.exit(2);
        }
        Transformer model = new BundleBuilder()
                .load(new File(args[0]), new ContextBuilder().createMleapContext()).root();
        scala.collection.Seq<String> select = JavaConverters.asScalaBuffer(Collections.singletonList("prediction"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1])), 1024);
        server.setExecutor(Executors.newFixedThreadPool(Integer.parseInt(args[2])));
        server.createContext("/health/ready", exchange -> {
            exchange.getRequestBody().readAllBytes();
            respond(exchange, 200, "application/json", "{\"status\":\"ready\"}".getBytes(StandardCharsets.UTF_8));
        });
        server.createContext("/models/days_to_sell/transform", exchange -> {
            if (!"POST".equals(exchange.getRequestMethod())) {
                respond(exchange, 405, "text/plain", new byte[0]);
                return;
            }
            byte[] body = readAll(exchange.getRequestBody());
            DefaultLeapFrame frame;
            try {
                frame = new DefaultFrameReader().fromBytes(body, StandardCharsets.UTF_8).get();
            } catch (Exception e) {
                respond(exchange, 400, "text/plain", String.valueOf(e).getBytes(StandardCharsets.UTF_8));
                return;
            }
            try {
                DefaultLeapFrame scored = model.transform(frame).get().select(select).get();
                byte[] out = new DefaultFrameWriter<>(scored).toBytes(StandardCharsets.UTF_8).get();
                respond(exchange, 200, "application/json", out);
            } catch (Exception e) {
                respond(exchange, 500, "text/plain", String.valueOf(e).getBytes(StandardCharsets.UTF_8));
            }
        });
        server.start();
        System.err.println("MleapHttpServer ready on 127.0.0.1:" + args[1]);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(1024);
        in.transferTo(buffer);
        return buffer.toByteArray();
    }

    private static void respond(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
