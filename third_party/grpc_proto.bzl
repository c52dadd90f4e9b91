"""One macro turns a .proto in this workspace into C++ message and gRPC code.

ferry_proto_library(name = "x_proto", src = "x.proto", deps = [":y_proto"]) makes
  :x_proto       cc_library with x.pb.{h,cc} and x.grpc.pb.{h,cc}
  :x_proto_mock  testonly cc_library with x_mock.grpc.pb.h (gMock stubs)
using Debian's /usr/bin/protoc and /usr/bin/grpc_cpp_plugin. Nothing generated is
checked in.
"""

def ferry_proto_library(name, src, deps = [], visibility = None):
    base = src[:-len(".proto")]
    pkg = native.package_name()
    outs = [
        base + ".pb.h",
        base + ".pb.cc",
        base + ".grpc.pb.h",
        base + ".grpc.pb.cc",
        base + "_mock.grpc.pb.h",
    ]
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = " ".join([
            "/usr/bin/protoc",
            "-I.",
            "-I/usr/include",
            "--cpp_out=$(GENDIR)",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "--grpc_out=generate_mock_code=true:$(GENDIR)",
            (pkg + "/" + src) if pkg else src,
        ]),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src] + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc", base + ".grpc.pb.cc"],
        hdrs = [base + ".pb.h", base + ".grpc.pb.h"],
        deps = deps + ["@system//:grpc", "@system//:protobuf"],
        visibility = visibility,
    )
    native.cc_library(
        name = name + "_mock",
        testonly = True,
        hdrs = [base + "_mock.grpc.pb.h"],
        deps = [":" + name, "@system//:gtest"],
        visibility = visibility,
    )
