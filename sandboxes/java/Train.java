// Run once at image build, to record what a typical snippet makes the JVM
// load and link (the JDK's compiler, collections, streams, records, string
// formatting, reading stdin) into an ahead-of-time cache.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.*;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

public class Train {
    record Point(int x, int y) {}

    sealed interface Shape permits Circle, Square {}
    record Circle(double r) implements Shape {}
    record Square(double a) implements Shape {}

    static double area(Shape s) {
        return switch (s) {
            case Circle c -> Math.PI * c.r() * c.r();
            case Square q -> q.a() * q.a();
        };
    }

    public static void main(String[] args) throws Exception {
        var points = List.of(new Point(1, 2), new Point(3, 4));
        points.stream().map(p -> p + " -> " + (p.x() * p.y())).forEach(System.out::println);
        Map<Integer, List<String>> byLength = Arrays.stream("a bb cc ddd".split(" "))
            .collect(Collectors.groupingBy(String::length, TreeMap::new, Collectors.toList()));
        System.out.println(byLength);
        System.out.printf("%.2f %s%n", area(new Circle(1)), String.format("%5d|%-5s|", 42, "x"));
        var sb = new StringBuilder();
        IntStream.rangeClosed(1, 5).mapToObj(Integer::toString).forEach(sb::append);
        System.out.println(sb.reverse());
        var set = new HashSet<>(List.of(3, 1, 2));
        var deque = new ArrayDeque<Integer>(set);
        Function<Integer, Integer> twice = x -> x * 2;
        System.out.println(deque.stream().map(twice).sorted().toList());
        var in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) System.out.println(line.toUpperCase());
        var scanner = new Scanner("1 2 3");
        int sum = 0;
        while (scanner.hasNextInt()) sum += scanner.nextInt();
        System.out.println(sum + " " + Optional.of(sum).map(String::valueOf).orElse(""));
        try {
            Object o = List.of().get(1);
        } catch (IndexOutOfBoundsException e) {
            System.out.println(e.getMessage());
        }
    }
}
