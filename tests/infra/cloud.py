"""Runs the Pulumi program under ``pulumi.runtime.set_mocks`` (no CLI, no cloud) and
records every resource it declares, with its inputs as the engine would receive them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from infra.config import StackConfig
from infra.program import Pipeline, declare

PROJECT_NUMBER = "123456789"
GCS_AGENT_DOMAIN = "gs-project-accounts.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Declared:
    type: str
    name: str
    inputs: Mapping[str, Any]


class _Cloud(pulumi.runtime.Mocks):
    """Answers like Google Cloud for the few outputs the program uses."""

    def __init__(self, project: str, bucket_location: str) -> None:
        self.project = project
        self.bucket_location = bucket_location
        self.declared: list[Declared] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        outputs = dict(inputs)
        resource_id = f"{args.name}-id"
        kind = args.typ.rsplit(":", 1)[-1]
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{self.project}.iam.gserviceaccount.com"
            outputs |= {"email": email, "name": f"projects/{self.project}/serviceAccounts/{email}"}
        elif args.typ == "gcp:pubsub/topic:Topic":
            resource_id = f"projects/{self.project}/topics/{inputs['name']}"
        elif args.typ == "gcp:cloudfunctionsv2/function:Function":
            outputs["url"] = f"https://{inputs['name']}-abc.a.run.app"
        elif kind == "AiIndexEndpoint":
            outputs["publicEndpointDomainName"] = "1.us-central1-123.vdb.vertexai.goog"
        self.declared.append(Declared(args.typ, args.name, inputs))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token.endswith("getProject"):
            return {"number": PROJECT_NUMBER, "projectId": self.project}
        if args.token.endswith("getProjectServiceAccount"):
            return {"emailAddress": f"service-{PROJECT_NUMBER}@{GCS_AGENT_DOMAIN}"}
        if args.token.endswith("getBucket"):
            return {"name": args.args["name"], "location": self.bucket_location}
        raise AssertionError(
            f"the program calls {args.token}, which the test cloud does not answer"
        )


def run_program(
    config: StackConfig, bundles: Mapping[str, Path], bucket_location: str = "EUROPE-WEST1"
) -> tuple[Pipeline, list[Declared]]:
    cloud = _Cloud(config.project, bucket_location)
    pulumi.runtime.set_mocks(cloud, project="spark-copilot", stack="test", preview=False)
    declared: list[Pipeline] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[list[Any]]:
        pipeline = declare(config, bundles)
        declared.append(pipeline)
        return pulumi.Output.all(*(f.url for f in pipeline.functions.values()))

    program()
    return declared[0], cloud.declared
