# Compiled once at image build: the object files of what a typical snippet
# uses (strings, arrays, hashes, structs, blocks, formatting, reading stdin)
# stay in Crystal's cache, and a run's compile reuses the ones it matches.
struct Point
  getter x : Int32, y : Int32

  def initialize(@x, @y); end
end

[Point.new(1, 2), Point.new(3, 4)].each do |p|
  puts "(#{p.x}, #{p.y}) -> #{p.x * p.y}"
end
words = "the quick brown fox the end".split
counts = Hash(String, Int32).new(0)
words.each { |w| counts[w] += 1 }
counts.to_a.sort_by { |(w, n)| {-n, w} }.each { |(w, n)| printf("%-5s %d\n", w, n) }
p words.map(&.upcase).select(&.size.> 3)
puts (1..10).sum, 3.14159.round(2), [3, 1, 2].sort.join(", ")
while line = gets
  puts line.strip.capitalize
end
begin
  raise "boom"
rescue ex
  puts ex.message
end
