"""The seed's first attempt at serving, for the load benchmark: each request scored by Spark local mode.

    python benchmarks/servers/spark_service.py --model .state/lake/models/fitted_model --port N

Starts a Spark session (``local[1]``), loads the fitted ``PipelineModel`` and scores one advert once, then binds
the port and serves, one request at a time (Spark scores one DataFrame at a time on one core anyway):

- ``POST /v1/predictions``: the scoring service's request body (``{"adverts": [...]}``); every request becomes
  a DataFrame, ``PipelineModel.transform``, ``collect``; the answer is
  ``{"predictions": [{"advert_id", "days_to_sell"}]}``;
- ``GET /health/ready``: 200 (the socket is only bound once the model has scored).

Each response closes its connection, so a single-threaded server is not held by one keep-alive client.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daystosell_assets.mleap.golden import INPUT_SCHEMA  # noqa: E402
from daystosell_assets.resources import spark_config  # noqa: E402

EXAMPLE = {"make": "Ford", "model": "Fiesta", "fuel": "petrol", "body_type": "hatchback", "postcode_area": "LS",
           "registration_year": 2017, "listing_year": 2023, "listing_month": 6, "mileage": 42_000.0,
           "asking_price": 8_995.0, "valuation": 9_400.0}


class SparkScorer:
    def __init__(self, model_path: Path) -> None:
        from pyspark.ml import PipelineModel
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder
        for key, value in spark_config(master="local[1]").items():
            builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        self.model = PipelineModel.load(str(model_path))

    def predict(self, adverts: list[dict[str, Any]]) -> list[float]:
        rows = [tuple(a[f.name] if f.dataType.typeName() == "string" else float(a[f.name])
                      for f in INPUT_SCHEMA.fields) for a in adverts]
        frame = self.spark.createDataFrame(rows, INPUT_SCHEMA)
        return [float(r["prediction"]) for r in self.model.transform(frame).select("prediction").collect()]


def handler_for(scorer: SparkScorer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health/ready":
                self.reply(200, {"status": "ready"})
            else:
                self.reply(404, {"detail": "not found"})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/predictions":
                self.reply(404, {"detail": "not found"})
                return
            try:
                adverts = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["adverts"]
            except (ValueError, KeyError, TypeError) as exc:
                self.reply(400, {"detail": f"bad body: {exc}"})
                return
            try:
                days = scorer.predict(adverts)
            except Exception as exc:
                self.reply(500, {"detail": str(exc)})
                return
            self.reply(200, {"predictions": [{"advert_id": a.get("advert_id"), "days_to_sell": d}
                                             for a, d in zip(adverts, days, strict=True)]})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the fitted Spark PipelineModel")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    scorer = SparkScorer(args.model)
    scorer.predict([EXAMPLE])
    HTTPServer.request_queue_size = 1024
    server = HTTPServer(("127.0.0.1", args.port), handler_for(scorer))
    print(f"spark service ready on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
