// Compiled once at image build, to fill the module cache with the C
// modules a typical snippet imports (Glibc, Foundation's, Dispatch's).
import Foundation
import Dispatch

struct Point: CustomStringConvertible {
    let x: Int, y: Int
    var description: String { "(\(x), \(y))" }
}

let points = [Point(x: 3, y: 4), Point(x: 1, y: 2)]
for p in points.sorted(by: { $0.x < $1.x }) {
    print(p, p.x * p.y)
}
print(String(format: "%.2f", 3.14159), Date.distantPast < Date())
while let line = readLine() {
    print(line.uppercased())
}
DispatchQueue.global().sync { print("done") }
