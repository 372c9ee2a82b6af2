//===- NSLDialect.h - The nsl dialect ---------------------------*- C++ -*-===//
#ifndef NSL_DIALECT_NSLDIALECT_H
#define NSL_DIALECT_NSLDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Dialect.h"

#include "dialect/NSLDialect.h.inc"

#endif // NSL_DIALECT_NSLDIALECT_H
