"""Put local fixture trees into a moto S3 server the way the real public buckets serve them."""

from __future__ import annotations

from pathlib import Path

#: moto accepts any credentials; the readers themselves are anonymous.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def upload_public(
    endpoint: str, local_dir: str | Path, bucket: str, key: str, region: str = "us-east-1"
) -> None:
    """Create ``bucket`` and upload ``local_dir`` under ``key`` with ACL public-read.

    hats and the pyarrow readers read ``s3://`` anonymously, and moto refuses unsigned GETs of
    private objects, so every object gets the public-read ACL (a bucket policy is not enough).
    """
    import boto3
    import s3fs

    client = boto3.client("s3", endpoint_url=endpoint, region_name=region, **CREDENTIALS)
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket, **location)
    fs = s3fs.S3FileSystem(
        key=CREDENTIALS["aws_access_key_id"],
        secret=CREDENTIALS["aws_secret_access_key"],
        client_kwargs={"endpoint_url": endpoint, "region_name": region},
        s3_additional_kwargs={"ACL": "public-read"},
    )
    fs.put(f"{local_dir}/", f"{bucket}/{key}/", recursive=True)
