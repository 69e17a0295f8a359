"""The allowlist of ops a SavedModel from an untrusted source may run (``savedmodel_checks.py``).

Every op here computes on tensors the graph already holds: arithmetic, linear algebra, neural
network layers and their gradients, shape and index manipulation, random numbers, casts, control
flow and variable access. None opens, reads, writes, lists or deletes a file, runs Python, talks
to another process or device, or writes a log or summary. An op missing from this list is refused
by name; adding one is a reviewed change (``tests/reliability/test_savedmodel_safety.py`` checks
that every entry is a registered op and that no I/O family crept in).
"""

from __future__ import annotations

_ELEMENTWISE = """
Abs Acos Acosh Add AddN AddV2 Angle ApproximateEqual Asin Asinh Atan Atan2 Atanh BesselI0e BesselI1e
Betainc BitwiseAnd BitwiseOr BitwiseXor Ceil ClipByValue Complex ComplexAbs Conj Cos Cosh Digamma Div
DivNoNan Equal Erf Erfc Erfinv Exp Expm1 Floor FloorDiv FloorMod Greater GreaterEqual Igamma Igammac
Imag Inv Invert IsFinite IsInf IsNan LeftShift Less LessEqual Lgamma Log Log1p LogicalAnd LogicalNot
LogicalOr Maximum Minimum Mod Mul MulNoNan Ndtri Neg NextAfter NotEqual Polygamma Pow Real RealDiv
Reciprocal RightShift Rint Round Rsqrt Select SelectV2 Sigmoid Sign Sin Sinh Sqrt Square
SquaredDifference Sub Tan Tanh TruncateDiv TruncateMod Xdivy Xlog1py Xlogy Zeta
"""

_REDUCTIONS_AND_LINALG = """
All Any ArgMax ArgMin BatchMatMul BatchMatMulV2 BatchMatMulV3 Cholesky Cumprod Cumsum
CumulativeLogsumexp Einsum EuclideanNorm L2Loss LogMatrixDeterminant MatMul MatrixBandPart
MatrixDeterminant MatrixDiag MatrixDiagPart MatrixDiagPartV2 MatrixDiagPartV3 MatrixDiagV2 MatrixDiagV3
MatrixInverse MatrixSetDiag MatrixSetDiagV2 MatrixSetDiagV3 MatrixSolve MatrixTriangularSolve Max Mean
Min Prod Qr SegmentMax SegmentMean SegmentMin SegmentSum SelfAdjointEigV2 Sum Svd TopKV2
UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentSum
"""

_NEURAL_NETWORK = """
AvgPool AvgPool3D AvgPoolGrad BiasAdd BiasAddGrad BiasAddV1 Conv Conv2D Conv2DBackpropFilter
Conv2DBackpropFilterV2 Conv2DBackpropInput Conv2DBackpropInputV2 Conv3D Conv3DBackpropFilterV2
Conv3DBackpropInputV2 DepthwiseConv2dNative DepthwiseConv2dNativeBackpropFilter
DepthwiseConv2dNativeBackpropInput Dilation2D Elu EluGrad FusedBatchNorm FusedBatchNormGrad
FusedBatchNormGradV2 FusedBatchNormGradV3 FusedBatchNormV2 FusedBatchNormV3 InTopKV2 LRN LeakyRelu
LeakyReluGrad LogSoftmax MaxPool MaxPool3D MaxPoolGrad MaxPoolGradGrad MaxPoolGradGradV2 MaxPoolGradV2
MaxPoolV2 MaxPoolWithArgmax Relu Relu6 Relu6Grad ReluGrad RsqrtGrad Selu SeluGrad SigmoidGrad Softmax
SoftmaxCrossEntropyWithLogits Softplus SoftplusGrad Softsign SoftsignGrad
SparseSoftmaxCrossEntropyWithLogits SqrtGrad TanhGrad InvGrad ReciprocalGrad
"""

_ARRAYS = """
BatchToSpaceND BroadcastArgs BroadcastGradientArgs BroadcastTo Bitcast Cast CheckNumerics
CheckNumericsV2 Concat ConcatOffset ConcatV2 Const DataFormatDimMap DataFormatVecPermute DepthToSpace
Diag DiagPart DynamicPartition DynamicStitch Empty EnsureShape ExpandDims Fill Gather GatherNd GatherV2
GuaranteeConst Identity IdentityN InvertPermutation LinSpace ListDiff MirrorPad MirrorPadGrad OneHot
OnesLike Pack Pad PadV2 ParallelDynamicStitch PreventGradient Range Rank Reshape ReverseSequence
ReverseV2 Roll ScatterNd Shape ShapeN Size Slice SpaceToBatchND SpaceToDepth Split SplitV Squeeze
StopGradient StridedSlice StridedSliceGrad TensorScatterAdd TensorScatterMax TensorScatterMin
TensorScatterSub TensorScatterUpdate Tile TileGrad Transpose Unique UniqueV2 Unpack UnravelIndex Where
ZerosLike Placeholder PlaceholderWithDefault Snapshot
"""

_IMAGES = """
AdjustContrastv2 AdjustHue AdjustSaturation CropAndResize HSVToRGB RGBToHSV ResizeArea ResizeBicubic
ResizeBicubicGrad ResizeBilinear ResizeBilinearGrad ResizeNearestNeighbor ResizeNearestNeighborGrad
ScaleAndTranslate ImageProjectiveTransformV3
"""

_RANDOM = """
Multinomial ParameterizedTruncatedNormal RandomGamma RandomPoissonV2 RandomShuffle RandomStandardNormal
RandomUniform RandomUniformInt StatelessMultinomial StatelessRandomGetKeyCounter
StatelessRandomGetKeyCounterAlg StatelessRandomNormal StatelessRandomNormalV2 StatelessRandomUniform
StatelessRandomUniformFullInt StatelessRandomUniformFullIntV2 StatelessRandomUniformInt
StatelessRandomUniformIntV2 StatelessRandomUniformV2 StatelessTruncatedNormal StatelessTruncatedNormalV2
TruncatedNormal StatelessRandomGetAlg RngReadAndSkip RngSkip StatefulStandardNormalV2
StatefulTruncatedNormal StatefulUniform StatefulUniformFullInt StatefulUniformInt
"""

# Function calls and control flow: the called functions are inspected too (their names come from
# the ops' func attrs), so the call itself is pure.
_CONTROL_FLOW = """
Case If NoOp PartitionedCall StatefulPartitionedCall StatelessCase StatelessIf StatelessWhile While
Enter Exit LoopCond Merge NextIteration Switch Assert
TensorListElementShape TensorListFromTensor TensorListGather TensorListGetItem TensorListLength
TensorListPopBack TensorListPushBack TensorListReserve TensorListResize TensorListScatterIntoExistingList
TensorListScatterV2 TensorListSetItem TensorListStack EmptyTensorList
TensorArrayV3 TensorArrayReadV3 TensorArrayWriteV3 TensorArrayGatherV3 TensorArrayScatterV3
TensorArraySizeV3 TensorArrayCloseV3 TensorArraySplitV3 TensorArrayConcatV3 TensorArrayGradV3
"""

# The model's own variables (TF1 graphs initialise them with Assign in their init op).
_VARIABLES = """
AssignAddVariableOp AssignSubVariableOp AssignVariableOp ReadVariableOp ResourceGather VarHandleOp
VarIsInitializedOp VariableShape VariableV2 Assign AssignAdd AssignSub IsVariableInitialized
"""


def _names(*blocks: str) -> frozenset[str]:
    return frozenset(name for block in blocks for name in block.split())


PURE_OPS = _names(
    _ELEMENTWISE, _REDUCTIONS_AND_LINALG, _NEURAL_NETWORK, _ARRAYS, _IMAGES, _RANDOM, _CONTROL_FLOW, _VARIABLES
)

# The ops of a TF2 SavedModel's own saver functions (the ``_traced_save`` / ``_traced_restore``
# functions its MetaGraph's saver_def names): checkpoint I/O, allowed there and only there, and
# only on the checkpoint prefix the loader feeds them (savedmodel_checks.py). Value: the inputs of
# the op that are file paths.
SAVER_OPS = {
    "RestoreV2": (0,),
    "SaveV2": (0,),
    "MergeV2Checkpoints": (0, 1),
    "StringJoin": (),
    "ShardedFilename": (),
    "StaticRegexFullMatch": (),
    "DisableCopyOnRead": (),
}
