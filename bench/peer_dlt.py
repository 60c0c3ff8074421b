"""dlt's ``merge`` on a ``sale_id`` into SQLite: what a user might pick instead of our loader.

Run by the peers' virtualenv (``bench.peers``), not ours: dlt is installed for the benchmark
only. The sale id is ours (date|product|store|quantity and its occurrence number), so that dlt
deduplicates exactly what our loader does.

    python bench/peer_dlt.py SALES_CSV WAREHOUSE_DB PIPELINES_DIR
"""

import csv
import sys

import dlt


def sales(path: str):
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for date, ref, quantity, store in reader:
            key = f"{date}|{ref}|{store}|{quantity}"
            counts[key] = n = counts.get(key, 0) + 1
            yield {"sale_id": f"{key}|{n}", "sale_date": date, "product_ref": ref,
                   "quantity": int(quantity), "store_id": int(store)}  # fmt: skip


def main() -> None:
    path, db, pipelines_dir = sys.argv[1:4]
    resource = dlt.resource(sales(path), name="sales", write_disposition="merge", primary_key="sale_id")
    pipeline = dlt.pipeline(
        pipeline_name="peer_dlt",
        destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{db}"),
        dataset_name="main",
        pipelines_dir=pipelines_dir,
    )
    pipeline.run(resource)


if __name__ == "__main__":
    main()
